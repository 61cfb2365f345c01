/**
 * Writes src/client/operations.ts, the typed client's table of operations, from the hub's route
 * tables: `npm run client:operations` after adding or changing a route. The client is bundled for
 * browsers, so it gets this plain table, not the server's tables; test/http/openapi.test.ts fails
 * while the file differs from what this would write.
 */
import { writeFileSync } from "node:fs";
import { clientOperationsSource } from "../src/http/routes/client-operations.js";

const file = new URL("../src/client/operations.ts", import.meta.url);
writeFileSync(file, clientOperationsSource());
console.log(`wrote ${file.pathname}`);
