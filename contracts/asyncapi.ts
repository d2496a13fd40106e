/**
 * AsyncAPI 3.0 export: services become send/receive operations, subjects and patterns become
 * channels, contract versions become messages with a CloudEvents headers schema and the
 * payload schema, transports' URLs become servers.
 */
import type { ContractVersion } from './contract.js';
import type { ContractRegistry } from './registry.js';
import { satisfies } from './semver.js';

/** What the export needs to know of a nanoservice (a NanoserviceDefinition fits). */
export interface AsyncApiService {
  name: string;
  version?: string;
  description?: string;
  /** What it consumes. `type` names the contract; without it the contract is guessed from the pattern's leading tokens. */
  subscriptions?: ReadonlyArray<{ pattern: string; type?: string; accept?: string; kind?: 'event' | 'request' }>;
  /** What it publishes. */
  publishes?: ReadonlyArray<{ subject: string; type: string; version?: string }>;
}

export interface AsyncApiOptions {
  /** The services to describe; with none, one channel per contract (`<name>.>`) is listed. */
  services: readonly AsyncApiService[];
  /** Where the contracts come from. */
  registry: ContractRegistry;
  /** Servers by name: a transport URL (`nats://localhost:4222`) or `{ url, description }`. */
  servers?: Record<string, string | { url: string; description?: string }>;
  /** `info.title`. Default `signalbus`. */
  title?: string;
  /** `info.version`. Default `1.0.0`. */
  version?: string;
  description?: string;
}

type Json = Record<string, unknown>;

/**
 * Builds the AsyncAPI 3.0 document (a plain object; `JSON.stringify` it).
 *
 * @example
 * const doc = toAsyncApi({ registry, servers: { nats: 'nats://localhost:4222' },
 *   services: [{ name: 'filter', subscriptions: [{ pattern: 'sensor.reading.>' }], publishes: [{ subject: 'sensor.filtered', type: 'sensor.reading' }] }] });
 */
export function toAsyncApi(options: AsyncApiOptions): Json {
  const { registry } = options;
  const channels: Json = {};
  const operations: Json = {};
  const messages: Json = {};

  const messageIds = (type: string | undefined, version?: string, accept?: string): string[] => {
    if (type === undefined || !registry.has(type)) return ['cloudevent'];
    const versions = registry.versions(type).map((v) => registry.get(type, v));
    const chosen = version !== undefined ? versions.filter((c) => c.version === version) : accept !== undefined ? versions.filter((c) => satisfiesLoose(c, accept)) : versions;
    return (chosen.length ? chosen : versions).map((cv) => {
      const id = messageId(cv);
      messages[id] ??= messageOf(cv);
      return id;
    });
  };
  const channel = (address: string, ids: string[]): string => {
    const id = channelId(address);
    const c = (channels[id] ??= { address, messages: {} }) as { messages: Json };
    for (const m of ids) c.messages[m] = { $ref: `#/components/messages/${m}` };
    return id;
  };
  const operation = (service: string, action: 'send' | 'receive', channelKey: string, ids: string[], extra: Json = {}) => {
    const key = safeId(`${service}.${action}.${channelKey}`);
    operations[key] = {
      action, channel: { $ref: `#/channels/${channelKey}` },
      messages: ids.map((m) => ({ $ref: `#/channels/${channelKey}/messages/${m}` })),
      title: `${service} ${action === 'send' ? 'publishes on' : 'consumes'} ${(channels[channelKey] as Json).address}`,
      ...extra,
    };
  };

  for (const s of options.services) {
    for (const sub of s.subscriptions ?? []) {
      const ids = messageIds(sub.type ?? guessContract(registry, sub.pattern), undefined, sub.accept);
      const key = channel(sub.pattern, ids);
      operation(s.name, 'receive', key, ids, sub.accept ? { description: `accepts contract versions ${sub.accept}` } : {});
    }
    for (const pub of s.publishes ?? []) {
      const ids = messageIds(pub.type, pub.version ?? registry.find(pub.type)?.version);
      operation(s.name, 'send', channel(pub.subject, ids), ids);
    }
  }
  if (options.services.length === 0) for (const name of registry.names()) channel(`${name}.>`, messageIds(name));
  if (messages.cloudevent === undefined && Object.values(channels).some((c) => 'cloudevent' in ((c as Json).messages as Json))) {
    messages.cloudevent = { name: 'cloudevent', title: 'CloudEvent (no contract)', contentType: 'application/json', headers: headersSchema(undefined), payload: {} };
  }

  const doc: Json = {
    asyncapi: '3.0.0',
    info: {
      title: options.title ?? 'signalbus',
      version: options.version ?? '1.0.0',
      description: options.description ?? 'Nanoservices exchanging CloudEvents 1.0 envelopes; `dataschema` names the contract version (urn:signalbus:contract:<name>:<version>).',
    },
    defaultContentType: 'application/json',
  };
  const servers = serversOf(options.servers ?? {});
  if (Object.keys(servers).length) doc.servers = servers;
  doc.channels = channels;
  doc.operations = operations;
  doc.components = { messages };
  return doc;
}

function satisfiesLoose(cv: ContractVersion, accept: string): boolean {
  return satisfies(cv.semver, accept);
}

/** The contract a pattern's leading tokens name (`sensor.reading.>` → `sensor.reading`), the longest that fits. */
function guessContract(registry: ContractRegistry, pattern: string): string | undefined {
  const tokens = pattern.split('.');
  for (let n = tokens.length; n > 0; n--) {
    const name = tokens.slice(0, n).join('.');
    if (registry.has(name)) return name;
  }
  return undefined;
}

function safeId(text: string): string {
  return text.replace(/[^A-Za-z0-9._-]/g, (c) => (c === '>' ? 'gt' : c === '*' ? 'star' : '_'));
}

function channelId(address: string): string { return safeId(address); }

function messageId(cv: ContractVersion): string { return safeId(`${cv.name}-v${cv.version}`); }

function messageOf(cv: ContractVersion): Json {
  const m: Json = {
    name: cv.name,
    title: `${cv.name} ${cv.version}`,
    contentType: 'application/json',
    headers: headersSchema(cv),
    payload: cv.definition.schema !== undefined ? toAsyncApiSchema(cv.definition.schema) : { type: 'object' },
  };
  if (cv.definition.description) m.summary = cv.definition.description;
  if (cv.protoType) m.description = `Also sent as application/protobuf: message ${cv.protoType.fullName.replace(/^\./, '')}.`;
  const examples = cv.definition.examples ?? [];
  if (examples.length) m.examples = examples.map((payload, i) => ({ name: `example${i + 1}`, payload, headers: { specversion: '1.0', type: cv.name, dataschema: cv.urn } }));
  return m;
}

/** CloudEvents attributes and signalbus' standard extensions, as the message headers. */
function headersSchema(cv: ContractVersion | undefined): Json {
  const str = { type: 'string' };
  return {
    type: 'object',
    required: ['specversion', 'id', 'source', 'type'],
    properties: {
      specversion: { const: '1.0' },
      id: str,
      source: str,
      type: cv ? { const: cv.name } : str,
      dataschema: cv ? { const: cv.urn } : str,
      datacontenttype: cv?.protoType ? { enum: ['application/json', 'application/protobuf'] } : str,
      time: { type: 'string', format: 'date-time' },
      subject: str, traceparent: str, tracestate: str, correlationid: str, causationid: str, partitionkey: str, tenant: str,
    },
  };
}

/**
 * A JSON Schema 2020-12 contract schema in the AsyncAPI Schema dialect (a JSON Schema draft-07
 * superset): local `$ref`s inlined, `$defs`, `$schema` and `$id` dropped.
 */
export function toAsyncApiSchema(schema: unknown): unknown {
  const root = schema;
  const walk = (node: unknown, depth: number): unknown => {
    if (Array.isArray(node)) return node.map((n) => walk(n, depth));
    if (node === null || typeof node !== 'object') return node;
    const obj = node as Json;
    if (typeof obj.$ref === 'string' && obj.$ref.startsWith('#/')) {
      if (depth > 16) return {};
      let target: unknown = root;
      for (const t of obj.$ref.slice(2).split('/')) target = (target as Json | undefined)?.[t.replace(/~1/g, '/').replace(/~0/g, '~')];
      const { $ref: _r, ...siblings } = obj;
      return walk({ ...(target as Json), ...siblings }, depth + 1);
    }
    const out: Json = {};
    for (const [k, v] of Object.entries(obj)) {
      if (k === '$schema' || k === '$id' || k === '$defs' || k === 'definitions') continue;
      out[k] = k === 'properties' || k === 'patternProperties'
        ? Object.fromEntries(Object.entries(v as Json).map(([p, s]) => [p, walk(s, depth)]))
        : walk(v, depth);
    }
    return out;
  };
  return walk(schema, 0);
}

const PROTOCOLS: Record<string, string> = { 'nats:': 'nats', 'tls:': 'nats', 'mqtt:': 'mqtt', 'mqtts:': 'secure-mqtt', 'amqp:': 'amqp', 'amqps:': 'amqps', 'ws:': 'ws', 'wss:': 'wss', 'http:': 'http', 'https:': 'https', 'memory:': 'memory' };

function serversOf(servers: Record<string, string | { url: string; description?: string }>): Json {
  const out: Json = {};
  for (const [name, spec] of Object.entries(servers)) {
    const { url, description } = typeof spec === 'string' ? { url: spec, description: undefined } : spec;
    const u = new URL(url);
    const server: Json = { host: u.host || u.hostname || 'localhost', protocol: PROTOCOLS[u.protocol] ?? u.protocol.replace(/:$/, '') };
    if (u.pathname && u.pathname !== '/') server.pathname = u.pathname;
    if (description) server.description = description;
    out[safeId(name)] = server;
  }
  return out;
}
