/**
 * The workspace's MCP servers open to the signed-in person (GET /api/mcp-servers), for a model
 * agent's picker. A hub without that route (404) or a refusal hides the picker: undefined.
 */
import { useEffect, useState } from "preact/hooks";
import { savedToken } from "../hub.js";

export interface McpServerChoice {
  id: string;
  name: string;
}

export function useMcpServers(wanted: boolean): McpServerChoice[] | undefined {
  const [servers, setServers] = useState<McpServerChoice[] | undefined>();
  useEffect(() => {
    if (!wanted) return;
    let live = true;
    void listMcpServers().then((list) => live && setServers(list));
    return () => {
      live = false;
    };
  }, [wanted]);
  return wanted ? servers : undefined;
}

async function listMcpServers(): Promise<McpServerChoice[] | undefined> {
  try {
    const res = await fetch("/api/mcp-servers?limit=100", { headers: { accept: "application/json", authorization: `Bearer ${savedToken()}` } });
    if (!res.ok) return undefined;
    const body = (await res.json()) as Record<string, unknown>;
    // The list is the answer's one array (`{mcp_servers | servers | items, next_cursor}`).
    const list = Object.values(body).find(Array.isArray) as Array<Record<string, unknown>> | undefined;
    return list
      ?.filter((s) => typeof s.id === "string")
      .map((s) => ({ id: s.id as string, name: typeof s.name === "string" ? s.name : (s.id as string) }));
  } catch {
    return undefined;
  }
}
