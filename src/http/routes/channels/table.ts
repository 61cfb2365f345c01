/**
 * Routes of the team channels family, under /team-channels and again under /api/team-channels
 * (operation ids of the second end in `ViaApi`). Who may read, publish or manage a channel:
 * domain/channels/policy.ts.
 */
import type { Services } from "../../../services.js";
import { ex } from "../../examples.js";
import { ANY_CREDENTIAL as ANY, Reply, route, type Route } from "../../table.js";
import * as S from "./schema.js";

const tag = "Team channels";
const READ = "channels/policy.ts: the workspace's members; agent keys with channels:read";

/** `publish` is the publish body's schema, made from MESSAGE_MAX_BYTES. */
export function channelsTable(s: Services, publish: ReturnType<typeof S.publishSchema>): Route[] {
  return ["/team-channels", "/api/team-channels"].flatMap((base, i) => {
    const id = (name: string) => (i === 0 ? name : `${name}ViaApi`);
    const one = `${base}/{channelId}`;
    return [
      route({
        method: "post", path: base, operationId: id("createChannel"), tag, summary: "Create a team channel",
        security: ANY, policy: "channels/policy.ts assertCanCreateChannel", errors: [409],
        body: S.CreateChannel, bodyExample: { name: "incidents", description: "Where agents post incidents" },
        answer: { status: 201, description: "The channel", schema: S.Channel, example: ex.channel },
        handle: ({ principal, body }) => s.channels.create(principal, body),
      }),
      route({
        method: "get", path: base, operationId: id("listChannels"), tag, summary: "List the workspace's channels",
        security: ANY, policy: READ, query: S.PageQuery,
        answer: { status: 200, description: "`{channels, nextCursor}`, by name", schema: S.ChannelPage, example: { channels: [ex.channel], nextCursor: null } },
        handle: ({ principal, query }) => s.channels.list(principal, query),
      }),
      route({
        method: "get", path: one, operationId: id("getChannel"), tag, summary: "Get a channel",
        security: ANY, policy: READ, answer: { status: 200, description: "The channel", schema: S.Channel, example: ex.channel },
        handle: ({ principal, params }) => s.channels.get(principal, params.channelId!),
      }),
      route({
        method: "delete", path: one, operationId: id("deleteChannel"), tag, summary: "Delete a channel",
        security: ANY, policy: "channels/policy.ts: its creator, admins or the master key", answer: { status: 204, description: "Deleted" },
        handle: ({ principal, params }) => s.channels.remove(principal, params.channelId!),
      }),
      route({
        method: "post", path: `${one}/subscribe`, operationId: id("subscribeChannel"), tag, summary: "Subscribe an agent to the channel (idempotent)",
        security: ANY, policy: "channels/policy.ts: acting for the agent (its users, the master key, or its key with channels:read)", body: S.Subscription, bodyExample: { agentId: "logs-agent" },
        answer: { status: 200, description: "The channel", schema: S.Channel, example: ex.channel },
        handle: ({ principal, params, body }) => s.channels.subscribe(principal, params.channelId!, body.agentId),
      }),
      route({
        method: "post", path: `${one}/unsubscribe`, operationId: id("unsubscribeChannel"), tag, summary: "Unsubscribe an agent (idempotent)",
        security: ANY, policy: "channels/policy.ts: acting for the agent (its users, the master key, or its key with channels:read)", body: S.Subscription, bodyExample: { agentId: "logs-agent" },
        answer: { status: 200, description: "The channel", schema: S.Channel, example: ex.channel },
        handle: ({ principal, params, body }) => s.channels.unsubscribe(principal, params.channelId!, body.agentId),
      }),
      route({
        method: "post", path: `${one}/messages`, operationId: id("publishChannelMessage"), tag, summary: "Broadcast a message to the channel's subscribers",
        description:
          "`message` and `metadata` together are at most MESSAGE_MAX_BYTES. The same `id` again with the same body answers 200 with the stored message; another body, 409. " +
          "Without `agentId` a person (user token) posts as themselves: the message has `agentId: null`, `userId` and `userName`; a key must name `agentId` (422).",
        security: ANY, policy: "channels/policy.ts: acting for the agent (its users, the master key, or its key with channels:publish); without agentId, a user who may read the channel", errors: [409],
        body: publish, bodyExample: { agentId: "logs-agent", message: "Disk 91% on db-2", metadata: { host: "db-2" } },
        answer: {
          status: 201, description: "The stored message", schema: S.ChannelMessage, example: ex.channelMessage,
          also: [{ status: 200, description: "The stored message: the same `id` was sent before with the same body" }],
        },
        handle: async ({ principal, params, body }) => {
          const { message, created } = await s.channels.publish(principal, params.channelId!, body);
          return new Reply(created ? 201 : 200, message);
        },
      }),
      route({
        method: "get", path: `${one}/messages`, operationId: id("channelHistory"), tag, summary: "Channel history",
        description: "Without `since` or `cursor`, the most recent `limit` messages, oldest first; with `since`, messages after that time and a `nextCursor` when more follow.",
        security: ANY, policy: READ, query: S.ChannelHistoryQuery,
        answer: { status: 200, description: "`{messages, nextCursor}`", schema: S.ChannelHistory, example: { messages: [ex.channelMessage], nextCursor: null } },
        handle: ({ principal, params, query }) => s.channels.history(principal, params.channelId!, query),
      }),
    ];
  });
}
