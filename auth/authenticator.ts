/**
 * Authentication and tenant scoping for the HTTP gateway and the WebSocket hub.
 *
 * `createAuthenticator(options)` compiles the options once (keys are parsed, the JWKS file is
 * read, every field is validated) and returns `authenticate(headers)`, which resolves with an
 * `AuthResult` or rejects with a typed error:
 *
 * - `Authorization: Bearer <jwt>` verified with `jose`: HS256 against `jwt.secret`, RS256/ES256
 *   against `jwt.publicKey` (SPKI PEM; the algorithm follows the key type), or any RS256/ES256
 *   key of the JWKS file `jwt.jwksFile` (picked by `kid`). `exp`/`nbf` are enforced; `issuer` and
 *   `audience` when configured. The tenant is the claim named `tenantClaim` (default `tenant`);
 *   the principal is `sub`; a token without one names nobody finer than its tenant, so its
 *   principal is `jwt:<tenant>` (untenanted: `jwt:` and a digest of its `iss`), never one
 *   principal shared by every such token.
 * - `X-Api-Key: <key>` looked up in `apiKeys` (key -> tenant, or -> `{ tenant, principal }`); the
 *   principal of a key given none is `apikey:` and the first 16 hex digits of the key's SHA-256,
 *   distinct per key and safe to log (the key itself never is).
 * - Neither: anonymous (`{ principal: 'anonymous' }`) when `required` is false, else 401.
 *
 * Errors: `AuthUnauthorizedError` (`SB_ERR_AUTH_UNAUTHORIZED`, 401) for missing, malformed,
 * unverifiable or expired credentials and unknown API keys; `AuthForbiddenError`
 * (`SB_ERR_AUTH_FORBIDDEN`, 403) for a verified token without a tenant (unless
 * `allowUntenanted`) and, from `checkSubjectAllowed`, for a subject outside the tenant's prefix.
 *
 * Tenant scoping: a tenant may only publish and subscribe under its `subjectPrefix`, made from the
 * template `subjectPrefix` (default `{tenant}.`, so tenant `acme` owns `acme.>`). The gateway and
 * the hub call `checkSubjectAllowed(result, subjectOrPattern)` for every subject and pattern and
 * stamp `tenant` from the result onto every event, overwriting whatever the client sent.
 * A tenant name must be a single subject token (`A-Z a-z 0-9 _ - ~ : @ =`), so it can never
 * widen its own prefix with dots or wildcards. What a tenant reads is filtered by the event's
 * `tenant` too (`mayRead`), since prefixes can be off (`subjectPrefix: false`) and a shared
 * subject then carries every tenant's events; its consumer groups are its own (`groupFor`).
 *
 * @example
 * const authenticate = createAuthenticator({ jwt: { secret: process.env.JWT_SECRET! }, required: true });
 * const who = await authenticate(req.headers);   // { tenant: 'acme', subjectPrefix: 'acme.', principal: 'user-1' }
 * checkSubjectAllowed(who, 'acme.orders.created'); // ok; 'globex.orders' throws AuthForbiddenError
 */
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import { createLocalJWKSet, errors as joseErrors, jwtVerify, type JSONWebKeySet, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { AuthForbiddenError, AuthUnauthorizedError, OptionsInvalidError } from '../core/index.js';

export { AuthForbiddenError, AuthUnauthorizedError } from '../core/index.js';

/** Who is calling, as established by `authenticate`. */
export interface AuthResult {
  /** The tenant (from the token claim or the API key); stamped on every event as `tenant`. */
  tenant?: string;
  /** Every subject and pattern this caller uses must start with this (e.g. `acme.`); absent = unscoped. */
  subjectPrefix?: string;
  /**
   * Who it is, for logs, the per-client rate limit and who may answer a request streamed to it:
   * the token's `sub` (without one `jwt:<tenant>`), the API key's configured principal (else
   * `apikey:<16 hex digits of its SHA-256>`), or `anonymous`. Never the credential itself.
   */
  principal: string;
}

/** The headers `authenticate` reads; Node's `IncomingHttpHeaders` fits as is. */
export type AuthHeaders = { authorization?: string; 'x-api-key'?: string } | IncomingHttpHeaders;

export type Authenticate = (headers: AuthHeaders) => Promise<AuthResult>;

export interface JwtOptions {
  /** HS256 shared secret (at least 32 bytes). */
  secret?: string | Uint8Array;
  /** RS256 or ES256 public key, SPKI PEM; the algorithm follows the key type. */
  publicKey?: string;
  /** Path of a JWKS JSON file (`{ "keys": [...] }`); keys are picked by `kid`, RS256/ES256. */
  jwksFile?: string;
  /** Required `iss`. */
  issuer?: string;
  /** Required `aud`. */
  audience?: string;
  /** Clock skew tolerated on `exp`/`nbf`, seconds. Default 5. */
  clockToleranceSec?: number;
}

export interface AuthenticatorOptions {
  /** JWT bearer verification: exactly one of `secret`, `publicKey`, `jwksFile`. */
  jwt?: JwtOptions;
  /** API keys: key -> tenant, or key -> `{ tenant?, principal? }`. */
  apiKeys?: Record<string, string | { tenant?: string; principal?: string }>;
  /** The JWT claim holding the tenant. Default `tenant`. */
  tenantClaim?: string;
  /**
   * Template of a tenant's subject prefix; `{tenant}` is replaced. Default `{tenant}.`.
   * `false` turns scoping off (the tenant is still stamped).
   */
  subjectPrefix?: string | false;
  /** Reject requests without credentials (401). Default: true when `jwt` or `apiKeys` is set. */
  required?: boolean;
  /** Accept verified tokens that carry no tenant claim (operators, internal services): unscoped. Default false. */
  allowUntenanted?: boolean;
}

const ANONYMOUS: AuthResult = Object.freeze({ principal: 'anonymous' });
const TENANT_TOKEN = /^[A-Za-z0-9_\-~:@=]{1,64}$/;

/**
 * Compiles auth options into an `authenticate(headers)` function. See the module comment.
 * @example const authenticate = createAuthenticator({ apiKeys: { 'k-123': 'acme' } });
 */
export function createAuthenticator(options: AuthenticatorOptions = {}): Authenticate {
  const tenantClaim = options.tenantClaim ?? 'tenant';
  if (typeof tenantClaim !== 'string' || tenantClaim.length === 0) {
    throw new OptionsInvalidError('auth.tenantClaim must be a non-empty string', { details: { field: 'tenantClaim' } });
  }
  const template = options.subjectPrefix ?? '{tenant}.';
  if (template !== false && (typeof template !== 'string' || !template.includes('{tenant}') || !template.endsWith('.'))) {
    throw new OptionsInvalidError('auth.subjectPrefix must contain "{tenant}" and end with "." (or be false)', { details: { field: 'subjectPrefix' } });
  }
  const verify = options.jwt ? compileJwt(options.jwt) : undefined;
  const apiKeys = compileApiKeys(options.apiKeys, template);
  const required = options.required ?? (verify !== undefined || apiKeys !== undefined);
  if (typeof required !== 'boolean') throw new OptionsInvalidError('auth.required must be a boolean', { details: { field: 'required' } });
  if (required && !verify && !apiKeys) {
    throw new OptionsInvalidError('auth.required is true but neither jwt nor apiKeys is configured', { details: { field: 'required' } });
  }
  const allowUntenanted = options.allowUntenanted === true;

  return async (headers) => {
    const authorization = single(headers.authorization, 'authorization');
    const apiKey = single(headers['x-api-key'], 'x-api-key');
    if (authorization !== undefined) {
      if (!verify) throw new AuthUnauthorizedError('bearer tokens are not accepted here', { details: { scheme: 'bearer' } });
      const space = authorization.indexOf(' ');
      if (space < 0 || authorization.slice(0, space).toLowerCase() !== 'bearer') {
        throw new AuthUnauthorizedError('Authorization must be "Bearer <token>"');
      }
      const payload = await verify(authorization.slice(space + 1).trim());
      const claim = payload[tenantClaim];
      const principal = typeof payload.sub === 'string' && payload.sub.length > 0 ? payload.sub : tokenPrincipal(payload, claim);
      if (claim === undefined) {
        if (allowUntenanted) return { principal };
        throw new AuthForbiddenError(`the token carries no "${tenantClaim}" claim`, { details: { claim: tenantClaim } });
      }
      if (typeof claim !== 'string' || !TENANT_TOKEN.test(claim)) {
        throw new AuthForbiddenError(`the "${tenantClaim}" claim must be one subject token`, { details: { claim: tenantClaim } });
      }
      return scoped(claim, principal, template);
    }
    if (apiKey !== undefined) {
      if (!apiKeys) throw new AuthUnauthorizedError('API keys are not accepted here');
      const hit = apiKeys.get(apiKey);
      if (!hit) throw new AuthUnauthorizedError('unknown API key');
      return hit;
    }
    if (required) throw new AuthUnauthorizedError('credentials required: Authorization: Bearer <jwt> or X-Api-Key');
    return ANONYMOUS;
  };
}

/**
 * Throws AuthForbiddenError unless `subjectOrPattern` lies under the caller's prefix. Wildcards
 * are whole tokens and the prefix ends with `.`, so a pattern that starts with the prefix can
 * only match subjects under it (`acme.>` yes, `>` or `*.orders` no).
 * @example checkSubjectAllowed({ tenant: 'acme', subjectPrefix: 'acme.', principal: 'u' }, 'acme.x') // ok
 */
export function checkSubjectAllowed(result: AuthResult, subjectOrPattern: string): void {
  const prefix = result.subjectPrefix;
  if (prefix === undefined || subjectOrPattern.startsWith(prefix)) return;
  throw new AuthForbiddenError(`tenant "${result.tenant ?? ''}" may only use subjects under "${prefix}"`,
    { details: { subject: subjectOrPattern, prefix } });
}

/**
 * Whether a caller may read `event` on a stream or subscription: a caller with a tenant sees only
 * events whose `tenant` is its own (an event without one is not its own), whatever the subject
 * layout; a caller without a tenant (anonymous, `allowUntenanted`) is unscoped and sees all.
 * The subject prefix alone cannot keep tenants apart: with `subjectPrefix: false` they share subjects.
 * @example mayRead({ tenant: 'acme', principal: 'u' }, { ...event, tenant: 'globex' }) // false
 */
export function mayRead(result: AuthResult | undefined, event: { tenant?: unknown }): boolean {
  return result?.tenant === undefined || event.tenant === result.tenant;
}

/**
 * The consumer group a caller joins when it asks for `group`: a tenant's groups are its own
 * (`<tenant>.<group>`), so two tenants naming the same group on a shared subject never split each
 * other's events between them (each member drops what is not its tenant's, which would lose them).
 * @example groupFor({ tenant: 'acme', principal: 'u' }, 'workers') // 'acme.workers'
 */
export function groupFor(result: AuthResult | undefined, group: string | undefined): string | undefined {
  return group === undefined || result?.tenant === undefined ? group : `${result.tenant}.${group}`;
}

function scoped(tenant: string, principal: string, template: string | false): AuthResult {
  return template === false ? { tenant, principal } : { tenant, principal, subjectPrefix: template.replaceAll('{tenant}', tenant) };
}

/**
 * The principal of an API key configured without one: distinct per key (it keys the rate limit and
 * reply ownership) and safe for logs, since it is a digest, never a slice of the secret.
 * @example apiKeyPrincipal('sk_live_acme_0001') // 'apikey:' + 16 hex digits
 */
export function apiKeyPrincipal(key: string): string {
  return `apikey:${digest(key)}`;
}

/**
 * The principal of a verified token without `sub`. Such a token names nobody finer than its tenant,
 * so all of a tenant's tokens without `sub` are one client (one rate-limit bucket, may answer each
 * other's streamed requests). Claims that change per token (`exp`, `iat`, `jti`) are left out on
 * purpose: a refreshed token would otherwise get a fresh rate-limit budget and lose the requests
 * its stream was offered. An untenanted token (operator) is told apart by its issuer.
 */
function tokenPrincipal(payload: JWTPayload, tenant: unknown): string {
  if (typeof tenant === 'string' && TENANT_TOKEN.test(tenant)) return `jwt:${tenant}`;
  return `jwt:${digest(typeof payload.iss === 'string' ? payload.iss : '')}`;
}

/** The first 16 hex digits (64 bits) of the SHA-256 of `text`. */
function digest(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

function single(value: string | string[] | undefined, name: string): string | undefined {
  if (value === undefined || typeof value === 'string') return value === '' ? undefined : value;
  throw new AuthUnauthorizedError(`header ${name} was sent more than once`, { details: { header: name } });
}

function compileApiKeys(keys: AuthenticatorOptions['apiKeys'], template: string | false): Map<string, AuthResult> | undefined {
  if (keys === undefined) return undefined;
  if (keys === null || typeof keys !== 'object') throw new OptionsInvalidError('auth.apiKeys must be an object of key -> tenant', { details: { field: 'apiKeys' } });
  const out = new Map<string, AuthResult>();
  for (const [key, value] of Object.entries(keys)) {
    const field = `apiKeys[${key.slice(0, 4)}…]`;
    if (key.length < 8) throw new OptionsInvalidError(`${field}: API keys must be at least 8 characters`, { details: { field } });
    const entry = typeof value === 'string' ? { tenant: value } : value;
    if (entry === null || typeof entry !== 'object') throw new OptionsInvalidError(`${field} must be a tenant or { tenant, principal }`, { details: { field } });
    if (entry.tenant !== undefined && !TENANT_TOKEN.test(entry.tenant)) {
      throw new OptionsInvalidError(`${field}.tenant must be one subject token`, { details: { field } });
    }
    const principal = entry.principal ?? apiKeyPrincipal(key);
    out.set(key, Object.freeze(entry.tenant === undefined ? { principal } : scoped(entry.tenant, principal, template)));
  }
  return out;
}

function compileJwt(o: JwtOptions): (token: string) => Promise<JWTPayload> {
  const sources = [o.secret, o.publicKey, o.jwksFile].filter((x) => x !== undefined).length;
  if (sources !== 1) throw new OptionsInvalidError('auth.jwt needs exactly one of secret, publicKey, jwksFile', { details: { field: 'jwt' } });
  let key: Uint8Array | KeyObject | JWTVerifyGetKey;
  let algorithms: string[];
  if (o.secret !== undefined) {
    key = typeof o.secret === 'string' ? new TextEncoder().encode(o.secret) : o.secret;
    if (key.byteLength < 32) throw new OptionsInvalidError('auth.jwt.secret must be at least 32 bytes for HS256', { details: { field: 'jwt.secret' } });
    algorithms = ['HS256'];
  } else if (o.publicKey !== undefined) {
    try { key = createPublicKey(o.publicKey); } catch (cause) {
      throw new OptionsInvalidError('auth.jwt.publicKey is not a PEM public key', { cause, details: { field: 'jwt.publicKey' } });
    }
    const type = key.asymmetricKeyType;
    if (type === 'rsa') algorithms = ['RS256'];
    else if (type === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') algorithms = ['ES256'];
    else throw new OptionsInvalidError(`auth.jwt.publicKey must be RSA (RS256) or P-256 (ES256), got ${type}`, { details: { field: 'jwt.publicKey' } });
  } else {
    let jwks: JSONWebKeySet;
    try { jwks = JSON.parse(readFileSync(o.jwksFile!, 'utf8')) as JSONWebKeySet; } catch (cause) {
      throw new OptionsInvalidError(`auth.jwt.jwksFile ${o.jwksFile} could not be read as JSON`, { cause, details: { field: 'jwt.jwksFile' } });
    }
    if (!Array.isArray(jwks?.keys)) throw new OptionsInvalidError('auth.jwt.jwksFile must hold { "keys": [...] }', { details: { field: 'jwt.jwksFile' } });
    key = createLocalJWKSet(jwks);
    algorithms = ['RS256', 'ES256'];
  }
  const tolerance = o.clockToleranceSec ?? 5;
  if (!(Number.isFinite(tolerance) && tolerance >= 0)) throw new OptionsInvalidError('auth.jwt.clockToleranceSec must be >= 0', { details: { field: 'jwt.clockToleranceSec' } });
  const verifyOptions = { algorithms, clockTolerance: tolerance, issuer: o.issuer, audience: o.audience };

  return async (token) => {
    try {
      // Two overloads (key vs key resolver); both verify the same way.
      const { payload } = typeof key === 'function'
        ? await jwtVerify(token, key, verifyOptions)
        : await jwtVerify(token, key, verifyOptions);
      return payload;
    } catch (cause) {
      const reason = cause instanceof joseErrors.JWTExpired ? 'expired'
        : cause instanceof joseErrors.JWTClaimValidationFailed ? `claim ${cause.claim} invalid`
          : cause instanceof joseErrors.JOSEError ? cause.code : 'malformed';
      throw new AuthUnauthorizedError(`bearer token rejected: ${reason}`, { cause, details: { reason } });
    }
  };
}

const CREDENTIAL_HEADER = /^(?:authorization|x-api-key)$/i;

/**
 * The first header named by `names` that a request carries more than once (lowercased), read from
 * Node's `rawHeaders`, which still hold every copy (`headers` joins some into "a, b" and keeps only
 * the first of others).
 *
 * @example repeatedHeader(req.rawHeaders, /^idempotency-key$/i) // 'idempotency-key' when sent twice
 */
export function repeatedHeader(rawHeaders: readonly string[], names: RegExp): string | undefined {
  let seen: Set<string> | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    if (!names.test(name)) continue;
    const lower = name.toLowerCase();
    seen ??= new Set();
    if (seen.has(lower)) return lower;
    seen.add(lower);
  }
  return undefined;
}

/**
 * Throws AuthUnauthorizedError when a request carries a credential header (`Authorization`,
 * `X-Api-Key`) more than once: Node keeps only the first, and which one counts must not be a
 * guess.
 *
 * @example refuseRepeatedCredentials(req.rawHeaders);
 */
export function refuseRepeatedCredentials(rawHeaders: readonly string[]): void {
  const repeated = repeatedHeader(rawHeaders, CREDENTIAL_HEADER);
  if (repeated !== undefined) {
    throw new AuthUnauthorizedError(`header ${repeated} was sent more than once; send one credential`, { details: { header: repeated } });
  }
}
