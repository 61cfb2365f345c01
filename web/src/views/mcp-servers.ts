/**
 * The workspace's MCP servers open to the signed-in person (GET /api/mcp-servers), for a model
 * agent's picker. A hub without that route (404) or a refusal hides the picker: undefined.
 */
import { useEffect, useState } from "preact/hooks";
import type { Hub } from "../hub.js";

export interface McpServerChoice {
  id: string;
  name: string;
}

export function useMcpServers(hub: Hub, wanted: boolean): McpServerChoice[] | undefined {
  const [servers, setServers] = useState<McpServerChoice[] | undefined>();
  useEffect(() => {
    if (!wanted) return;
    let live = true;
    void hub.rest.mcpServers
      .list({ limit: 100 })
      .then(
        (page) => page.mcp_servers.map(({ id, name }) => ({ id, name })),
        () => undefined,
      )
      .then((list) => live && setServers(list));
    return () => {
      live = false;
    };
  }, [wanted]);
  return wanted ? servers : undefined;
}
