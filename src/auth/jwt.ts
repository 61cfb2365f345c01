/**
 * User JWT verification with jose. HS256 with a shared secret, and/or asymmetric algorithms
 * with a JWKS URL or a PEM public key. The algorithm decides which key is used, so a token
 * signed with HS256 can never be checked against a public key (algorithm confusion), and
 * `alg: none` is never accepted. `exp` is required; `iss`/`aud` are checked when configured.
 */
import {
  SignJWT,
  createRemoteJWKSet,
  errors as joseErrors,
  importSPKI,
  jwtVerify,
  type JWTPayload,
  type JWTVerifyGetKey,
} from "jose";
import { AppError, Unauthorized } from "../errors.js";
import type { UserPrincipal } from "./principal.js";
import { KEY_TOKEN_TTL_S, signKeyToken, verifyKeyToken, type KeyTokenClaims } from "./key-token.js";

type PublicKey = Awaited<ReturnType<typeof importSPKI>>;

const ASYMMETRIC_ALGS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"];

/** Longer picture URLs are ignored rather than stored. */
const MAX_AVATAR_URL = 2000;

export interface JwtSettings {
  secret: string | undefined;
  jwksUrl: string | undefined;
  publicKey: string | undefined;
  issuer: string | undefined;
  audience: string | undefined;
  /** The claim, and its value, that make a user a workspace admin. */
  adminClaim: string;
  adminValue: string;
  /** Tokens issued longer ago than this are refused, whatever their `exp`; 0: no limit. */
  maxAgeSeconds: number;
}

/** What a verified user token says: the user principal's fields, and where and until when. */
export type UserTokenClaims = Pick<UserPrincipal, "sub" | "email" | "name" | "groups" | "role" | "admin" | "emailVerified"> & {
  workspace: string;
  /** The OIDC `picture` claim, when it is an http(s) URL. */
  avatar: string | null;
  exp: number;
};

export class JwtVerifier {
  private readonly secretKey: Uint8Array | undefined;
  private readonly jwks: JWTVerifyGetKey | undefined;
  private readonly publicKeys = new Map<string, Promise<PublicKey>>();
  private readonly algorithms: string[];

  constructor(private readonly settings: JwtSettings) {
    this.secretKey = settings.secret ? new TextEncoder().encode(settings.secret) : undefined;
    this.jwks = settings.jwksUrl ? createRemoteJWKSet(new URL(settings.jwksUrl)) : undefined;
    this.algorithms = [
      ...(this.secretKey ? ["HS256"] : []),
      ...(this.jwks || settings.publicKey ? ASYMMETRIC_ALGS : []),
    ];
  }

  async verify(token: string): Promise<UserTokenClaims> {
    if (this.algorithms.length === 0) throw new Unauthorized("User tokens are not configured on this hub");
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, (header, input) => this.keyFor(header.alg, header, input), {
        algorithms: this.algorithms,
        requiredClaims: ["exp", "sub"],
        ...(this.settings.issuer ? { issuer: this.settings.issuer } : {}),
        ...(this.settings.audience ? { audience: this.settings.audience } : {}),
      }));
    } catch (err) {
      if (err instanceof Unauthorized) throw err;
      if (err instanceof joseErrors.JWTExpired) throw new Unauthorized("The token has expired");
      throw new Unauthorized("The token is not valid");
    }
    const { maxAgeSeconds } = this.settings;
    if (maxAgeSeconds > 0 && typeof payload.iat === "number" && Date.now() / 1000 - payload.iat > maxAgeSeconds) {
      throw new Unauthorized(`The token was issued more than ${maxAgeSeconds} seconds ago; sign in again`);
    }
    return readClaims(payload, this.settings);
  }

  /** Signs an exchanged key token with the hub's HS256 secret (none: 501, the hub only verifies an identity provider's tokens). */
  async signKeyToken(claims: Omit<KeyTokenClaims, "exp">, ttlSeconds = KEY_TOKEN_TTL_S): Promise<string> {
    if (!this.secretKey) throw new AppError(501, "not-implemented", "Not Implemented", "This hub has no JWT_SECRET to sign key tokens with");
    return signKeyToken(this.secretKey, claims, ttlSeconds);
  }

  verifyKeyToken(token: string): Promise<KeyTokenClaims> {
    return verifyKeyToken(this.secretKey, token);
  }

  private keyFor(alg: string | undefined, ...args: Parameters<JWTVerifyGetKey>): Promise<PublicKey | Uint8Array> | PublicKey | Uint8Array {
    if (alg === "HS256" && this.secretKey) return this.secretKey;
    if (alg && ASYMMETRIC_ALGS.includes(alg)) {
      if (this.jwks) return this.jwks(...args) as Promise<PublicKey>;
      if (this.settings.publicKey) {
        let key = this.publicKeys.get(alg);
        if (!key) {
          key = importSPKI(this.settings.publicKey, alg);
          key.catch(() => this.publicKeys.delete(alg));
          this.publicKeys.set(alg, key);
        }
        return key;
      }
    }
    throw new Unauthorized("The token's algorithm is not accepted");
  }
}

function readClaims(p: JWTPayload, settings: Pick<JwtSettings, "adminClaim" | "adminValue">): UserTokenClaims {
  // A claim with a NUL can name no user of ours (and Postgres would refuse it): the token is refused.
  const str = (v: unknown) => {
    if (typeof v === "string" && v.includes("\u0000")) throw new Unauthorized("The token's claims are not valid");
    return typeof v === "string" && v.trim() !== "" ? v.trim() : undefined;
  };
  const sub = str(p.sub);
  const workspace = str(p.workspace);
  const email = str(p.email);
  if (!sub || !workspace || !email) throw new Unauthorized("The token must carry sub, email and workspace claims");
  const groups = Array.isArray(p.groups) ? p.groups.filter((g): g is string => typeof g === "string" && !g.includes("\u0000")) : [];
  return {
    sub,
    workspace,
    email: email.toLowerCase(),
    name: str(p.name) ?? email.split("@")[0]!,
    groups,
    role: str(p.role),
    admin: hasValue(p[settings.adminClaim], settings.adminValue),
    emailVerified: p.email_verified !== false,
    avatar: typeof p.picture === "string" && /^https?:\/\//i.test(p.picture) && p.picture.length <= MAX_AVATAR_URL ? p.picture : null,
    exp: p.exp!,
  };
}

/** A claim equal to the value, or an array of strings holding it. */
function hasValue(claim: unknown, value: string): boolean {
  return claim === value || (Array.isArray(claim) && claim.includes(value));
}

export interface MintOptions {
  secret: string;
  workspace: string;
  sub: string;
  email: string;
  name?: string | undefined;
  groups?: string[] | undefined;
  role?: string | undefined;
  picture?: string | undefined;
  ttlSeconds: number;
  issuer?: string | undefined;
  audience?: string | undefined;
}

/** Signs a user token with HS256, for development, tests and the `agenthub token` command. */
export async function mintUserToken(o: MintOptions): Promise<string> {
  const jwt = new SignJWT({
    workspace: o.workspace,
    email: o.email,
    ...(o.name ? { name: o.name } : {}),
    ...(o.groups ? { groups: o.groups } : {}),
    ...(o.role ? { role: o.role } : {}),
    ...(o.picture ? { picture: o.picture } : {}),
  })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(o.sub)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + o.ttlSeconds);
  if (o.issuer) jwt.setIssuer(o.issuer);
  if (o.audience) jwt.setAudience(o.audience);
  return jwt.sign(new TextEncoder().encode(o.secret));
}
