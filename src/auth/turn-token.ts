/**
 * Turn tokens: what the hub sends an HTTP agent server with a turn (`Authorization: Bearer`), so
 * the server can ask `api-authenticated` who asked and with which role. An agent server is
 * whoever an agent's editor points it at, so the token must be worth nothing else: it names the
 * workspace, agent, session and turn, expires with the turn (15 minutes at most), carries no
 * admin role and no master authority, and every other route and the socket handshake refuse it
 * (Authenticator.authenticate). api-authenticated also refuses it once its turn has ended.
 *
 * Kept apart from user and key tokens three ways: its own `typ` header and audience, no `email`
 * claim (a user token needs one), and its own HMAC key derived from the hub's secret, so even a
 * verifier that forgot the first two could not take one for the other.
 */
import { createHmac } from "node:crypto";
import { SignJWT, decodeProtectedHeader, errors as joseErrors, jwtVerify } from "jose";
import { Unauthorized } from "../errors.js";

export const TURN_TOKEN_TYPE = "agenthub-turn+jwt";
const AUDIENCE = "agenthub:turn-token";
/** A turn token never lives longer than this, however long its turn may run. */
export const TURN_TOKEN_MAX_TTL_S = 900;

/** Who asked for the turn, as far as the agent server may know: never more than the asker had. */
export type TurnAsker =
  | { kind: "user"; userId: number; role: string | undefined; emailVerified: boolean }
  | { kind: "key"; keyId: string; role: string | undefined };

export interface TurnTokenClaims {
  kind: "turn";
  workspaceId: string;
  agentId: string;
  sessionId: string;
  turnId: string;
  asker: TurnAsker;
  exp: number;
}

/** The HMAC key turn tokens are signed with: derived from the hub's secret, never the secret itself. */
export function turnTokenKey(hubSecret: string): Uint8Array {
  return new Uint8Array(createHmac("sha256", hubSecret).update("agenthub turn tokens v1").digest());
}

/** Whether a JWT says it is a turn token (checked for real by verifyTurnToken). */
export function looksLikeTurnToken(token: string): boolean {
  try {
    return decodeProtectedHeader(token).typ === TURN_TOKEN_TYPE;
  } catch {
    return false;
  }
}

/**
 * When a turn token for a turn started at `startedAt` expires: when the turn must be over
 * (`turnTimeoutMs` after it started), but at most TURN_TOKEN_MAX_TTL_S from now.
 */
export function turnTokenExpiry(startedAt: Date | null, turnTimeoutMs: number, now = Date.now()): number {
  const turnEnds = (startedAt?.getTime() ?? now) + turnTimeoutMs;
  return Math.floor(Math.min(turnEnds, now + TURN_TOKEN_MAX_TTL_S * 1000) / 1000);
}

export async function signTurnToken(key: Uint8Array, c: Omit<TurnTokenClaims, "kind" | "exp">, exp: number): Promise<string> {
  const { asker } = c;
  return new SignJWT({
    workspace: c.workspaceId,
    agent: c.agentId,
    session: c.sessionId,
    turn: c.turnId,
    ...(asker.role ? { role: asker.role } : {}),
    ...(asker.kind === "user" ? { email_verified: asker.emailVerified } : {}),
  })
    .setProtectedHeader({ alg: "HS256", typ: TURN_TOKEN_TYPE })
    .setSubject(asker.kind === "user" ? `user:${asker.userId}` : `key:${asker.keyId}`)
    .setAudience(AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(exp)
    .sign(key);
}

export async function verifyTurnToken(key: Uint8Array, token: string): Promise<TurnTokenClaims> {
  try {
    const { payload: p } = await jwtVerify(token, key, { algorithms: ["HS256"], audience: AUDIENCE, typ: TURN_TOKEN_TYPE, requiredClaims: ["exp", "sub"] });
    const str = (v: unknown) => (typeof v === "string" && v !== "" && !v.includes("\u0000") ? v : undefined);
    const [workspaceId, agentId, sessionId, turnId] = [str(p.workspace), str(p.agent), str(p.session), str(p.turn)];
    const role = str(p.role);
    const subject = /^(user|key):(.{1,100})$/.exec(str(p.sub) ?? "");
    if (!workspaceId || !agentId || !sessionId || !turnId || !subject) throw new Unauthorized("The token is not valid");
    let asker: TurnAsker;
    if (subject[1] === "user") {
      const userId = Number(subject[2]);
      if (!Number.isSafeInteger(userId) || userId < 1 || typeof p.email_verified !== "boolean") throw new Unauthorized("The token is not valid");
      asker = { kind: "user", userId, role, emailVerified: p.email_verified };
    } else {
      asker = { kind: "key", keyId: subject[2]!, role };
    }
    return { kind: "turn", workspaceId, agentId, sessionId, turnId, asker, exp: p.exp! };
  } catch (err) {
    if (err instanceof Unauthorized) throw err;
    if (err instanceof joseErrors.JWTExpired) throw new Unauthorized("The token has expired");
    throw new Unauthorized("The token is not valid");
  }
}
