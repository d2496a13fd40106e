import { numberParam, OptionsInvalidError } from '../../core/index.js';

/** Options of the Redis Streams transport. Defaults live in `DEFAULTS`, checks in `resolveRedisStreamsOptions`. */
export interface RedisStreamsOptions {
  /** Redis URL (`redis://[:password@]host:port[/db]`, `rediss://` for TLS). Default `redis://127.0.0.1:6379`. */
  url?: string;
  /** Prefix of every stream key: subject `a.b` lives in the stream `<keyPrefix>a.b`. Default `sb:`. */
  keyPrefix?: string;
  /**
   * Approximate length each stream is trimmed to on every XADD (`MAXLEN ~`), so streams do not
   * grow forever. Entries trimmed before a consumer group read them are lost to it: size this
   * for the longest outage a group must survive. 0 turns trimming off. Default 100,000.
   */
  maxLen?: number;
  /**
   * A pending entry idle this long (ms) is taken over by another member of its group: how a
   * message held by a crashed consumer (or a nak whose timer died with its process) comes back.
   * Keep retry delays below it. Default 30,000.
   */
  claimIdleMs?: number;
  /** How often a wildcard subscription looks for new streams (SCAN), ms. Default 1,000. */
  patternRefreshMs?: number;
  /** Largest entry accepted (attributes and data), bytes. Default 1 MiB. */
  maxMessageBytes?: number;
}

export type ResolvedRedisStreamsOptions = Required<RedisStreamsOptions>;

export const DEFAULTS: ResolvedRedisStreamsOptions = {
  url: 'redis://127.0.0.1:6379', keyPrefix: 'sb:', maxLen: 100_000, claimIdleMs: 30_000,
  patternRefreshMs: 1_000, maxMessageBytes: 1024 * 1024,
};

/**
 * Defaults filled in and every field checked; the error names the field.
 * @example resolveRedisStreamsOptions({ keyPrefix: 'app1:' }).maxLen // 100000
 */
export function resolveRedisStreamsOptions(options: RedisStreamsOptions = {}): ResolvedRedisStreamsOptions {
  const o = { ...DEFAULTS, ...stripUndefined(options) };
  const fail = (field: string, expected: string) => {
    throw new OptionsInvalidError(`redis-streams option "${field}" must be ${expected}, got ${JSON.stringify(o[field as keyof typeof o])}`, { details: { field } });
  };
  if (!/^rediss?:\/\//.test(o.url)) fail('url', 'a redis:// or rediss:// URL');
  if (typeof o.keyPrefix !== 'string' || o.keyPrefix === '') fail('keyPrefix', 'a non-empty string');
  if (!(Number.isInteger(o.maxLen) && o.maxLen >= 0)) fail('maxLen', 'an integer >= 0');
  if (!(Number.isInteger(o.claimIdleMs) && o.claimIdleMs >= 100)) fail('claimIdleMs', 'an integer >= 100');
  if (!(Number.isInteger(o.patternRefreshMs) && o.patternRefreshMs >= 10)) fail('patternRefreshMs', 'an integer >= 10');
  if (!(Number.isInteger(o.maxMessageBytes) && o.maxMessageBytes > 0)) fail('maxMessageBytes', 'a positive integer');
  return o;
}

/**
 * Options from a transport URL: `redis://host:port/db?keyPrefix=app1:&maxLen=10000`; the query
 * parameters are the option names, the rest of the URL is the connection.
 * @example redisStreamsOptionsFromUrl(new URL('redis://127.0.0.1:6379?maxLen=500')).maxLen // 500
 */
export function redisStreamsOptionsFromUrl(url: URL): ResolvedRedisStreamsOptions {
  const connection = new URL(url.href);
  connection.search = '';
  return resolveRedisStreamsOptions({
    url: connection.href,
    keyPrefix: url.searchParams.get('keyPrefix') ?? undefined,
    maxLen: numberParam(url, 'maxLen', DEFAULTS.maxLen),
    claimIdleMs: numberParam(url, 'claimIdleMs', DEFAULTS.claimIdleMs),
    patternRefreshMs: numberParam(url, 'patternRefreshMs', DEFAULTS.patternRefreshMs),
    maxMessageBytes: numberParam(url, 'maxMessageBytes', DEFAULTS.maxMessageBytes),
  });
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
