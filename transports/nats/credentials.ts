import { nkeys } from 'nats';
import { OptionsInvalidError } from '../../core/index.js';

/** The part of nkeys.js (re-exported by nats.js without types) these checks use. */
interface NKeyPair { getPublicKey(): string }
const nkeyCodec = nkeys as { fromSeed(seed: Uint8Array): NKeyPair };
const encoder = new TextEncoder();
const KEY_KINDS: Record<string, string> = { A: 'an account', O: 'an operator', N: 'a server', C: 'a cluster', X: 'a curve' };

/** A user JWT and the seed that signs for it, as read from a `.creds` file. */
export interface NatsUserCredentials { jwt: string; seed: string }

/**
 * The public key (`U…`) of a user seed (`SU…`); anything else — a public key, an account or
 * operator seed, a typo — is an OptionsInvalidError naming `field`, so it fails before the
 * server refuses it with a less helpful authorization violation.
 *
 * @example userPublicKey(process.env.NATS_NKEY_SEED!, 'nkeySeed') // 'UD…'
 */
export function userPublicKey(seed: string, field: string): string {
  let publicKey: string | undefined;
  try {
    publicKey = nkeyCodec.fromSeed(encoder.encode(seed.trim())).getPublicKey();
  } catch { /* not a seed at all; reported below */ }
  if (!publicKey?.startsWith('U')) {
    const what = publicKey ? `the seed of ${KEY_KINDS[publicKey[0]!] ?? 'another kind of'} key` : 'something that is not an nkey seed';
    throw new OptionsInvalidError(`nats option ${field} must be a user nkey seed (SU…), got ${what}`, { details: { field } });
  }
  return publicKey;
}

// One armored block: `-----BEGIN <label>-----`, the value, `------END <label>------` (nsc writes six dashes on END lines).
const BLOCK = /-{3,}\s*BEGIN ([^\r\n-]+?)\s*-{3,}\s*\r?\n\s*(\S+)\s*\r?\n\s*-{3,}\s*END [^\r\n-]+?\s*-{3,}/g;

/** Decodes one base64url JWT segment to its JSON object, or undefined. */
function jwtSegment(segment: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? value as Record<string, unknown> : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Reads the contents of a `.creds` file (as `nsc generate creds` writes it): the user JWT block and
 * the user seed block. Contents without both, a JWT that is not one, or a seed that is not the
 * JWT's user are an OptionsInvalidError naming `field`. Parsing here, rather than in nats.js,
 * also accepts CRLF line ends and a missing final newline.
 *
 * @example const { jwt, seed } = parseCreds(readFileSync('user.creds', 'utf8'), 'credsFile');
 */
export function parseCreds(text: string, field: string): NatsUserCredentials {
  const invalid = (why: string) => new OptionsInvalidError(`nats option ${field} is not the contents of a .creds file: ${why}`, { details: { field } });
  let jwt: string | undefined;
  let seed: string | undefined;
  for (const [, label, value] of String(text).matchAll(BLOCK)) {
    if (/JWT/i.test(label!)) jwt ??= value;
    else if (/SEED/i.test(label!)) seed ??= value;
  }
  if (jwt === undefined) throw invalid('no "BEGIN NATS USER JWT" block');
  if (seed === undefined) throw invalid('no "BEGIN USER NKEY SEED" block');
  const [header, claims, signature, ...rest] = jwt.split('.');
  const claimsObject = claims === undefined ? undefined : jwtSegment(claims);
  if (rest.length > 0 || !signature || !jwtSegment(header!) || !claimsObject) throw invalid('the JWT block does not hold a JWT');
  const user = userPublicKey(seed, field);
  // The server checks the connection's signature with the key the JWT is issued to.
  if (typeof claimsObject.sub === 'string' && claimsObject.sub !== user) throw invalid(`the JWT is issued to ${claimsObject.sub}, the seed belongs to ${user}`);
  return { jwt, seed };
}
