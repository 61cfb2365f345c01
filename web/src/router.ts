/** Hash routes (`#/…`): the page itself is served at `/`, and only `/shared/{token}` is a path of its own. */
import { useEffect, useState } from "preact/hooks";

export type Route =
  | { view: "home" }
  | { view: "session"; agentId: string; sessionId: string }
  | { view: "conversation"; groupId: string; sessionId: string }
  | { view: "group"; groupId: string }
  | { view: "new-group" }
  | { view: "channel"; channelId: string }
  | { view: "new-channel" }
  | { view: "new-agent" }
  | { view: "agent"; agentId: string }
  | { view: "knowledge" }
  | { view: "approvals" };

export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  const [a, b, c, d] = parts;
  if (a === "agents" && b === "new") return { view: "new-agent" };
  if (a === "agents" && b && c === "sessions" && d) return { view: "session", agentId: b, sessionId: d };
  if (a === "agents" && b && !c) return { view: "agent", agentId: b };
  if (a === "groups" && b === "new") return { view: "new-group" };
  if (a === "groups" && b && c === "conversations" && d) return { view: "conversation", groupId: b, sessionId: d };
  if (a === "groups" && b) return { view: "group", groupId: b };
  if (a === "channels" && b === "new") return { view: "new-channel" };
  if (a === "channels" && b) return { view: "channel", channelId: b };
  if (a === "knowledge" && !b) return { view: "knowledge" };
  if (a === "approvals" && !b) return { view: "approvals" };
  return { view: "home" };
}

export function href(route: Route): string {
  const e = encodeURIComponent;
  switch (route.view) {
    case "home":
      return "#/";
    case "session":
      return `#/agents/${e(route.agentId)}/sessions/${e(route.sessionId)}`;
    case "conversation":
      return `#/groups/${e(route.groupId)}/conversations/${e(route.sessionId)}`;
    case "group":
      return `#/groups/${e(route.groupId)}`;
    case "new-group":
      return "#/groups/new";
    case "channel":
      return `#/channels/${e(route.channelId)}`;
    case "new-channel":
      return "#/channels/new";
    case "new-agent":
      return "#/agents/new";
    case "agent":
      return `#/agents/${e(route.agentId)}`;
    case "knowledge":
      return "#/knowledge";
    case "approvals":
      return "#/approvals";
  }
}

export const go = (route: Route) => {
  location.hash = href(route);
};

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseRoute(location.hash));
    addEventListener("hashchange", onChange);
    return () => removeEventListener("hashchange", onChange);
  }, []);
  return route;
}
