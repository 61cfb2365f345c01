/**
 * The Sharely framing of a turn's events, as the Sharely Server SDK reads them: `event: <type>`
 * and `data: {threadId, messageId, ...fields}`, until `done`. The turn routes of /api and /v1
 * chat answer in it, and `GET …/sessions/{sessionId}/stream?format=sharely` resumes it.
 */
import type { StreamFormat } from "../turn-stream.js";

export const sharelyFormat: StreamFormat = {
  name: "sharely",
  headers: {},
  create(turn) {
    return {
      open: () => [],
      event({ type, ...fields }) {
        return [`event: ${type}\ndata: ${JSON.stringify({ threadId: turn.session_id, messageId: turn.message_id, ...fields })}\n\n`];
      },
    };
  },
};
