/**
 * The source of src/client/operations.ts, made from the route tables (scripts/client-operations.ts
 * writes it; test/http/openapi.test.ts checks it is current). Plain data, so the browser bundle of
 * the client loads none of the server.
 */
import { clientOperations, routeTables } from "./index.js";

export function clientOperationsSource(): string {
  // Handlers are not called and settings do not change paths: no services are needed.
  const ops = clientOperations(routeTables({} as never, {} as never, { messageMaxBytes: 1 }));
  const lines = Object.entries(ops).map(([id, [method, path]]) => `  ${id}: [${JSON.stringify(method)}, ${JSON.stringify(path)}],`);
  return [
    "/**",
    " * Every REST operation of the hub: [method, OpenAPI path] by operation id. Made from the hub's",
    " * route tables (src/http/routes/<family>/table.ts) by `npm run client:operations`; do not edit by hand.",
    " */",
    "export const REST_OPERATIONS = {",
    ...lines,
    '} as const satisfies Record<string, readonly ["GET" | "POST" | "PUT" | "PATCH" | "DELETE", string]>;',
    "",
  ].join("\n");
}
