/**
 * The payloads clients send over Socket.IO: watches, unwatches and the handshake's `auth.since`,
 * parsed with the same `parse()` as REST bodies (a bad one is answered with the fields it names).
 */
import { z } from "zod";
import { MAX_SEQ } from "../schemas.js";

/** A server-made id (`ses_…`, `ch_…`) named in a socket payload. */
const StreamId = z.string().min(1).max(100);

/** A seq to resume after: a whole number, sent as a JSON number or a numeric string. */
const Seq = z.union([z.number(), z.string().regex(/^\d{1,10}$/).transform(Number)]).pipe(z.number().int().min(0).max(MAX_SEQ));
const SinceSeq = Seq.optional();
/** Streams one handshake may resume at most. */
export const MAX_RESUMED_STREAMS = 1000;
export const ChannelWatch = z.object({ channelId: StreamId, since: SinceSeq });
export const SessionWatch = z.object({ sessionId: StreamId, since: SinceSeq });
export const ChannelUnwatch = z.object({ channelId: StreamId });
export const SessionUnwatch = z.object({ sessionId: StreamId });

/** `auth.since` in the handshake: the client's position in the streams it resumes, by stream id. */
export const HandshakeSince = z
  .strictObject({ channels: z.record(StreamId, Seq).optional(), sessions: z.record(StreamId, Seq).optional() })
  .refine(
    (s) => Object.keys(s.channels ?? {}).length + Object.keys(s.sessions ?? {}).length <= MAX_RESUMED_STREAMS,
    `names more than ${MAX_RESUMED_STREAMS} streams`,
  )
  .optional();
