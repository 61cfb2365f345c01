/**
 * agenthub's typed client (`import … from "agenthub/client"`): REST methods for the hub's routes
 * (rest.ts) and a realtime connection with resume and turn rendering built in (realtime.ts).
 *
 *   import { AgentHubClient, connectRealtime } from "agenthub/client";
 *   const hub = new AgentHubClient({ url, token });
 *   const rt = connectRealtime({ url, token });
 *   rt.turns.onUpdate((t) => console.log(t.message.content));
 *   await rt.watchSession(sessionId, { since: 0 });
 *   await hub.turns.start(agentId, sessionId, { content: "What can you do?" });
 */
export { AgentHubError } from "./errors.js";
export { AgentHubClient, REST_OPERATIONS, type RestClientOptions, type RestOperation } from "./rest.js";
export {
  RealtimeClient,
  connectRealtime,
  type HubSocket,
  type LifecycleEvents,
  type RealtimeEventName,
  type RealtimeEvents,
  type RealtimeOptions,
  type StreamKind,
  type WatchOptions,
} from "./realtime.js";
export { TurnRenderer, type LiveMessage, type LiveTurn, type TurnUpdate } from "./turns.js";
export type * from "./types.js";
