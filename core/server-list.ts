/**
 * Server lists in transport URLs: `nats://user:pass@h1:4222,h2:4222,h3:4222/path?x=1`. WHATWG
 * `new URL()` refuses a comma-separated authority, so the list is split here, by hand, before any
 * URL is built. Pure: no I/O.
 */
import { OptionsInvalidError, TransportUnknownError } from './errors.js';

/** A URL with its server list split out. */
export interface ServerList {
  /**
   * The URL with only the first host in its authority (userinfo, path, query and fragment kept)
   * and the further hosts prepended to its `servers` query parameter (`h2:4222,h3:4222`).
   */
  url: URL;
  /**
   * Every server, `scheme://[userinfo@]host[:port]`, in order: the authority's hosts, then the
   * entries of a `servers` query parameter already in the URL. The userinfo goes with each, so
   * any of them can be connected to on its own. Empty for a URL without a host (`memory://`).
   */
  servers: string[];
}

const SPLIT = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)([^?#]*)(\?[^#]*)?(#.*)?$/;
// A host name or IPv4 address, or a bracketed IPv6 address; then an optional port.
const HOST = /^(\[[0-9A-Fa-f:.]+\]|[^\s:[\]@/,]+)(?::(\d{1,5}))?$/;

/** The URL with its password hidden, for error messages. */
function redacted(url: string): string {
  return url.replace(/^([^:/?#]+:\/\/[^:/?#@]*:)[^@/?#]*@/, '$1***@');
}

function badList(url: string, why: string, field: string): OptionsInvalidError {
  const shown = redacted(url);
  return new OptionsInvalidError(`server list in "${shown}": ${why}`, { details: { field, url: shown } });
}

function parse(url: string): URL {
  try { return new URL(url); } catch (cause) {
    const shown = redacted(url);
    throw new TransportUnknownError(`"${shown}" is not a URL; expected e.g. nats://127.0.0.1:4222, nats://h1:4222,h2:4222 or memory://`, { cause, details: { url: shown } });
  }
}

/**
 * Splits a URL whose authority holds a comma-separated host list. A URL with one host (or none)
 * is parsed as it is. Rejects an empty host or a port outside 1-65535 with OptionsInvalidError,
 * and what is not a URL at all with TransportUnknownError; both name the URL (password hidden).
 *
 * @example
 * const { url, servers } = splitServerList('nats://u:p@10.0.0.1:4222,10.0.0.2:4222?jetstream=1&stream=S');
 * // url.href     'nats://u:p@10.0.0.1:4222?jetstream=1&stream=S&servers=10.0.0.2%3A4222'
 * // servers      ['nats://u:p@10.0.0.1:4222', 'nats://u:p@10.0.0.2:4222']
 */
export function splitServerList(url: string): ServerList {
  const m = SPLIT.exec(url);
  if (!m) return { url: parse(url), servers: [] };
  const [, scheme, authority, path, query = '', fragment = ''] = m as unknown as [string, string, string, string, string?, string?];
  // Userinfo ends at the last `@`; a comma in it (percent-encoded or not) is not a separator.
  const at = authority.lastIndexOf('@');
  const userinfo = at >= 0 ? authority.slice(0, at + 1) : '';
  const hostPart = authority.slice(at + 1);
  const hosts = hostPart.split(',');
  if (hosts.length > 1) {
    hosts.forEach((host, i) => {
      const h = HOST.exec(host);
      if (!h) throw badList(url, host === '' ? `host ${i + 1} is empty` : `host ${i + 1} "${host}" is not host[:port]`, 'servers');
      if (h[2] !== undefined && !(Number(h[2]) >= 1 && Number(h[2]) <= 65535)) throw badList(url, `host ${i + 1} "${host}" has port ${h[2]}, outside 1-65535`, 'servers');
    });
  }
  const parsed = parse(`${scheme}://${userinfo}${hosts[0]}${path}${query}${fragment}`);
  const given = (parsed.searchParams.get('servers') ?? '').split(',').filter(Boolean);
  if (hosts.length > 1) parsed.searchParams.set('servers', [...hosts.slice(1), ...given].join(','));
  const prefix = `${scheme.toLowerCase()}://${userinfo}`;
  const servers = [...(hosts[0] ? hosts : []), ...given].map((s) => (s.includes('://') ? s : prefix + s));
  return { url: parsed, servers };
}
