/**
 * Exchanged key tokens (`POST /workspaces/{id}/generate-access-key-token`): a short-lived JWT
 * the hub signs with its own HS256 secret that acts as one API key, optionally with a role
 * (RBAC). It names the key by id, never carries its secret, and is only as good as the key:
 * authentication looks the key up on every use, so revoking or expiring the key ends its
 * tokens at once. Its `typ` header and audience keep it apart from user tokens both ways: a
 * key token carries no `email` (a user token needs one) and a user token lacks this audience.
 */
import { SignJWT, decodeProtectedHeader, errors as joseErrors, jwtVerify } from "jose";
import { Unauthorized } from "../errors.js";

export const KEY_TOKEN_TYPE = "agenthub-key+jwt";
const AUDIENCE = "agenthub:key-token";
/** An exchanged token lives this long (or less, when its key expires sooner). */
export const KEY_TOKEN_TTL_S = 3600;

export interface KeyTokenClaims {
  keyId: string;
  workspaceId: string;
  /** The role the key was exchanged with. */
  role: string | undefined;
  exp: number;
}

/** Whether a JWT says it is a key token (checked for real by verifyKeyToken). */
export function looksLikeKeyToken(token: string): boolean {
  try {
    return decodeProtectedHeader(token).typ === KEY_TOKEN_TYPE;
  } catch {
    return false;
  }
}

export async function signKeyToken(secret: Uint8Array, c: Omit<KeyTokenClaims, "exp">, ttlSeconds = KEY_TOKEN_TTL_S): Promise<string> {
  return new SignJWT({ workspace: c.workspaceId, ...(c.role ? { role: c.role } : {}) })
    .setProtectedHeader({ alg: "HS256", typ: KEY_TOKEN_TYPE })
    .setSubject(`key:${c.keyId}`)
    .setAudience(AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + ttlSeconds)
    .sign(secret);
}

export async function verifyKeyToken(secret: Uint8Array | undefined, token: string): Promise<KeyTokenClaims> {
  if (!secret) throw new Unauthorized("This hub issues no key tokens");
  try {
    const { payload } = await jwtVerify(token, secret, { algorithms: ["HS256"], audience: AUDIENCE, typ: KEY_TOKEN_TYPE, requiredClaims: ["exp", "sub"] });
    const keyId = /^key:(.{1,100})$/.exec(payload.sub ?? "")?.[1];
    const workspaceId = typeof payload.workspace === "string" ? payload.workspace : undefined;
    const role = typeof payload.role === "string" && payload.role !== "" ? payload.role : undefined;
    if (!keyId || !workspaceId || [keyId, workspaceId, role ?? ""].some((v) => v.includes("\u0000"))) throw new Unauthorized("The token is not valid");
    return { keyId, workspaceId, role, exp: payload.exp! };
  } catch (err) {
    if (err instanceof Unauthorized) throw err;
    if (err instanceof joseErrors.JWTExpired) throw new Unauthorized("The token has expired");
    throw new Unauthorized("The token is not valid");
  }
}
