/**
 * AsyncAPI 3.0 export: services become send/receive operations, subjects and patterns become
 * channels, contract versions become messages with a CloudEvents headers schema and the
 * payload schema, transports' URLs become servers.
 */
import { readFileSync } from 'node:fs';
import { compilePattern } from '../core/subjects.js';
import type { ContractVersion } from './contract.js';
import type { ContractRegistry } from './registry.js';
import { satisfies } from './semver.js';

/** A contract version a channel carries; without `version`, every registered version. */
export interface AsyncApiContractRef { type: string; version?: string }

/** What a channel entry of a service may say beyond its subject. */
interface AsyncApiChannelHints {
  /** The contracts it carries, when known exactly (a pipeline's data flow); wins over `type`. */
  contracts?: readonly AsyncApiContractRef[];
  /** Payloads that are not CloudEvents (devices publishing plain JSON), as ingest consumes them. */
  raw?: boolean;
  /** Dead-letter copies of what `contracts`/`raw` name: the same events with `dlq*` headers. */
  deadLetters?: boolean;
  /** Names of `*` tokens by index (`{ 1: 'deviceId' }` makes `devices.*.telemetry` the address `devices.{deviceId}.telemetry`). */
  tokenNames?: Readonly<Record<number, string>>;
  /** Operation bindings (`{ nats: { queue: 'workers' } }`). */
  bindings?: Readonly<Record<string, unknown>>;
  /** Where each `{placeholder}` of a subject template is read from (`{ deviceId: 'data.deviceId' }`), for the parameter's description. */
  placeholderSources?: Readonly<Record<string, string>>;
  description?: string;
}

/** What the export needs to know of a nanoservice (a NanoserviceDefinition fits). */
export interface AsyncApiService {
  name: string;
  version?: string;
  description?: string;
  /** What it consumes. `type` names the contract; without it the contract is guessed from the pattern's leading tokens. */
  subscriptions?: ReadonlyArray<{ pattern: string; type?: string; accept?: string; kind?: 'event' | 'request' } & AsyncApiChannelHints>;
  /** What it publishes: a subject, or a template whose `{placeholders}` become channel parameters. */
  publishes?: ReadonlyArray<{ subject: string; type?: string; version?: string } & AsyncApiChannelHints>;
}

/** A server: a transport URL (`nats://localhost:4222`) or the URL with a description and bindings. */
export type AsyncApiServerSpec = string | { url: string; description?: string; bindings?: Record<string, unknown> };

export interface AsyncApiOptions {
  /** The services to describe; with none, one channel per contract (`<name>.>`) is listed. */
  services: readonly AsyncApiService[];
  /** Where the contracts come from. */
  registry: ContractRegistry;
  /** Servers by name. */
  servers?: Record<string, AsyncApiServerSpec>;
  /**
   * Which server each channel lives on: the first route whose pattern matches the channel's
   * subject (or pattern), else `defaultServer`, as a Bus routes. Without either, channels name no
   * servers (every server carries them).
   */
  routes?: ReadonlyArray<{ pattern: string; server: string }>;
  defaultServer?: string;
  /** Extra fields of a channel (bindings, `x-…` extensions), by its subject, pattern or template and the server it lives on. */
  channelExtras?: (subject: string, server: string | undefined) => Record<string, unknown> | undefined;
  /** `info.title`. Default `signalbus`. */
  title?: string;
  /** `info.version`. Default `1.0.0`. */
  version?: string;
  description?: string;
}

type Json = Record<string, unknown>;

const RAW = 'raw';
const ANY_CLOUDEVENT = 'cloudevent';

/**
 * Builds the AsyncAPI 3.0 document (a plain object; `JSON.stringify` it). A channel's address is
 * its subject with AsyncAPI parameters for what varies: a template's `{placeholder}`, a
 * pattern's `*` (`{token<i>}` or the name `tokenNames` gives it) and `>` (`{rest}`); the exact
 * subject, pattern or template stays in the channel's `x-signalbus-subject`.
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
  const servers = serversOf(options.servers ?? {});
  const serverOf = routerOf(options.routes ?? [], options.defaultServer);

  const contractIds = (refs: readonly AsyncApiContractRef[], deadLetters: boolean): string[] => refs.flatMap((ref) => {
    if (!registry.has(ref.type)) return [deadLetters ? deadLetterMessage(messages, ANY_CLOUDEVENT, undefined) : ANY_CLOUDEVENT];
    const versions = registry.versions(ref.type).map((v) => registry.get(ref.type, v));
    const chosen = ref.version === undefined ? versions : versions.filter((c) => c.version === ref.version);
    return (chosen.length ? chosen : versions).map((cv) => {
      const id = messageId(cv);
      messages[id] ??= messageOf(cv);
      return deadLetters ? deadLetterMessage(messages, id, cv) : id;
    });
  });
  /** The contract versions `type` names: exactly `version`, those `accept` allows, else all; an unknown type is any CloudEvent. */
  const refsOf = (type: string | undefined, version?: string, accept?: string): AsyncApiContractRef[] => {
    if (type === undefined || !registry.has(type)) return [{ type: type ?? ANY_CLOUDEVENT }];
    if (version !== undefined || accept === undefined) return [{ type, version }];
    const accepted = registry.versions(type).filter((v) => satisfiesLoose(registry.get(type, v), accept));
    return accepted.length ? accepted.map((v) => ({ type, version: v })) : [{ type }];
  };
  const messageIds = (hints: AsyncApiChannelHints, type: string | undefined, version?: string, accept?: string): string[] => {
    const deadLetters = hints.deadLetters === true;
    const ids: string[] = [];
    if (hints.raw) ids.push(deadLetters ? deadLetterMessage(messages, RAW, undefined) : RAW);
    ids.push(...contractIds(hints.contracts ?? (hints.raw ? [] : refsOf(type, version, accept)), deadLetters));
    return [...new Set(ids)];
  };
  const channel = (subject: string, ids: string[], hints: AsyncApiChannelHints): string => {
    const id = channelId(subject);
    let c = channels[id] as { messages: Json; parameters?: Json; servers?: unknown[] } | undefined;
    if (c === undefined) {
      const { address, parameters } = addressOf(subject, hints);
      c = { address, messages: {} } as { messages: Json };
      const entry = c as Json;
      if (Object.keys(parameters).length) entry.parameters = parameters;
      const server = serverOf(subject);
      if (server !== undefined && safeId(server) in servers) entry.servers = [{ $ref: `#/servers/${safeId(server)}` }];
      entry['x-signalbus-subject'] = subject;
      Object.assign(entry, options.channelExtras?.(subject, server) ?? {});
      channels[id] = c;
    }
    for (const m of ids) c.messages[m] = { $ref: `#/components/messages/${m}` };
    return id;
  };
  /** One operation per service, direction and channel; tagged with the service, so tools group them by it. */
  const operation = (s: AsyncApiService, action: 'send' | 'receive', channelKey: string, ids: string[], extra: Json = {}) => {
    const service = s.name;
    const key = safeId(`${service}.${action}.${channelKey}`);
    const existing = operations[key] as { messages: Array<{ $ref: string }> } | undefined;
    const refs = ids.map((m) => ({ $ref: `#/channels/${channelKey}/messages/${m}` }));
    if (existing) {
      for (const r of refs) if (!existing.messages.some((e) => e.$ref === r.$ref)) existing.messages.push(r);
      return;
    }
    operations[key] = {
      action, channel: { $ref: `#/channels/${channelKey}` },
      messages: refs,
      title: `${service} ${action === 'send' ? 'publishes on' : 'consumes'} ${(channels[channelKey] as Json)['x-signalbus-subject']}`,
      tags: [{ name: service, ...(s.description ? { description: s.description } : {}) }],
      ...extra,
    };
  };

  for (const s of options.services) {
    for (const sub of s.subscriptions ?? []) {
      const ids = messageIds(sub, sub.type ?? (sub.contracts || sub.raw ? undefined : guessContract(registry, sub.pattern)), undefined, sub.accept);
      const key = channel(sub.pattern, ids, sub);
      const description = [sub.description, sub.accept ? `accepts contract versions ${sub.accept}` : undefined].filter(Boolean).join('; ');
      operation(s, 'receive', key, ids, { ...(description ? { description } : {}), ...(sub.bindings ? { bindings: sub.bindings } : {}) });
    }
    for (const pub of s.publishes ?? []) {
      const ids = messageIds(pub, pub.type, pub.version ?? (pub.type !== undefined ? registry.find(pub.type)?.version : undefined));
      operation(s, 'send', channel(pub.subject, ids, pub), ids, { ...(pub.description ? { description: pub.description } : {}), ...(pub.bindings ? { bindings: pub.bindings } : {}) });
    }
  }
  if (options.services.length === 0) for (const name of registry.names()) channel(`${name}.>`, messageIds({}, name), {});
  if (messages[ANY_CLOUDEVENT] === undefined && usesMessage(channels, ANY_CLOUDEVENT)) {
    messages[ANY_CLOUDEVENT] = { name: ANY_CLOUDEVENT, title: 'CloudEvent (no contract)', contentType: 'application/json', headers: headersSchema(undefined), payload: {} };
  }
  if (usesMessage(channels, RAW)) {
    messages[RAW] = {
      name: RAW, title: 'Raw payload (not a CloudEvent)', contentType: 'application/json', payload: {},
      description: 'What devices that know nothing of signalbus publish: plain JSON (or bytes), no CloudEvents attributes.',
    };
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
  if (Object.keys(servers).length) doc.servers = servers;
  doc.channels = channels;
  doc.operations = operations;
  doc.components = { messages };
  return doc;
}

/**
 * The server a subject, pattern or template lives on, as a Bus routes it: the first route whose
 * pattern matches (a template's placeholders stand for one token each), else the default.
 */
export function routerOf(routes: ReadonlyArray<{ pattern: string; server: string }>, defaultServer: string | undefined): (subject: string) => string | undefined {
  const compiled = routes.map((r) => ({ match: compilePattern(r.pattern), server: r.server }));
  return (subject) => {
    const probe = subject.replace(PLACEHOLDER, 'x');
    return compiled.find((r) => r.match(probe))?.server ?? defaultServer;
  };
}

function usesMessage(channels: Json, id: string): boolean {
  return Object.values(channels).some((c) => id in ((c as Json).messages as Json));
}

/** The dead-letter twin of message `baseId`, added to `messages` once; returns its id. */
function deadLetterMessage(messages: Json, baseId: string, cv: ContractVersion | undefined): string {
  const id = `${baseId}-deadletter`;
  if (messages[id] !== undefined) return id;
  const base = baseId === RAW ? 'a raw payload (its `type` is the subject it arrived on, its `source` `<transport>:<subject>`)' : cv ? `${cv.name} ${cv.version}` : 'a CloudEvent';
  const headers = headersSchema(cv) as { required: string[]; properties: Json };
  headers.required = [...headers.required, ...DLQ_REQUIRED];
  headers.properties = { ...headers.properties, ...DLQ_HEADERS };
  if (baseId === RAW) headers.properties.type = { type: 'string', description: 'The subject the payload arrived on.' };
  messages[id] = {
    name: `${cv?.name ?? baseId}.deadletter`,
    title: `${cv ? `${cv.name} ${cv.version}` : baseId} (dead-lettered)`,
    summary: `A dead-letter copy of ${base}: the event as it was consumed, with dlq* headers saying why and where.`,
    description: 'Data too large for the transport with the dlq* headers added is cut to its first 4096 bytes as application/octet-stream (`dlqtruncated` = its original size); bytes nobody could decode stay application/octet-stream.',
    contentType: cv?.definition.schema === undefined && cv?.protoType ? 'application/protobuf' : 'application/json',
    headers,
    payload: cv ? payloadOf(cv) : {},
  };
  return id;
}

const DLQ_REQUIRED = ['dlqreason', 'dlqmessage', 'dlqattempts', 'dlqsubject', 'dlqservice'];
const DLQ_HEADERS: Json = {
  dlqreason: { type: 'string', pattern: '^SB_ERR_[A-Z0-9_]+$', description: 'The error code.' },
  dlqmessage: { type: 'string', description: 'The error message.' },
  dlqattempts: { type: 'string', pattern: '^[0-9]+$', description: 'Attempts made.' },
  dlqsubject: { type: 'string', description: 'The subject it was consumed from.' },
  dlqservice: { type: 'string', description: 'app@container that gave up.' },
  dlqtruncated: { type: 'string', pattern: '^[0-9]+$', description: 'On a truncated copy: the original data size in bytes.' },
};

const PLACEHOLDER = /\{([^{}]*)\}/g;

/**
 * A subject, pattern or template as a channel address and its parameters: `{path}` becomes
 * `{path_with_underscores}`, a `*` token `{token<i>}` (or its name), `>` `{rest}`.
 */
function addressOf(subject: string, hints: AsyncApiChannelHints): { address: string; parameters: Json } {
  const parameters: Json = {};
  const withParams = subject.replace(PLACEHOLDER, (_m, path: string) => {
    const name = parameterName(path);
    const from = hints.placeholderSources?.[path] ?? path;
    parameters[name] = { description: `One subject token made from \`${from}\` of the event (characters a token cannot hold become _).` };
    return `{${name}}`;
  });
  // Placeholders hold no dots any more, so the tokens are the dot-separated parts.
  const address = withParams.split('.').map((token, i) => {
    if (token === '*') {
      const named = hints.tokenNames?.[i];
      const name = named !== undefined ? parameterName(named) : `token${i}`;
      parameters[name] = { description: named !== undefined ? `The ${named}: any one token (\`*\` in the pattern).` : `Any one token (\`*\` in the pattern, token ${i}).` };
      return `{${name}}`;
    }
    if (token === '>' && i === withParams.split('.').length - 1) {
      parameters.rest = { description: 'One or more trailing tokens, dots included (`>` in the pattern).' };
      return '{rest}';
    }
    return token;
  }).join('.');
  return { address, parameters };
}

function parameterName(text: string): string { return text.replace(/[^A-Za-z0-9_-]/g, '_'); }

function satisfiesLoose(cv: ContractVersion, accept: string): boolean {
  return satisfies(cv.semver, accept);
}

/** The contract a pattern's leading tokens name (`sensor.reading.>` → `sensor.reading`), the longest that fits. */
export function guessContract(registry: ContractRegistry, pattern: string): string | undefined {
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
    payload: payloadOf(cv),
  };
  if (cv.definition.schema === undefined && cv.protoType) {
    m.contentType = 'application/protobuf';
    m.description = `The data is message ${cv.protoType.fullName.replace(/^\./, '')} of the .proto payload.`;
    m['x-signalbus-proto-message'] = cv.protoType.fullName.replace(/^\./, '');
  }
  if (cv.definition.description) m.summary = cv.definition.description;
  if (cv.protoType && cv.definition.schema !== undefined) m.description = `Also sent as application/protobuf: message ${cv.protoType.fullName.replace(/^\./, '')}.`;
  const examples = cv.definition.examples ?? [];
  if (examples.length) m.examples = examples.map((payload, i) => ({ name: `example${i + 1}`, payload, headers: { specversion: '1.0', type: cv.name, dataschema: cv.urn } }));
  return m;
}

/**
 * The JSON Schema of the data in the AsyncAPI dialect; a contract with only a proto gets the
 * `.proto` text under the protobuf schema format (a Multi Format Schema Object).
 */
function payloadOf(cv: ContractVersion): unknown {
  if (cv.definition.schema !== undefined) return toAsyncApiSchema(cv.definition.schema);
  if (cv.protoFile !== undefined) {
    return { schemaFormat: 'application/vnd.google.protobuf;version=3', schema: readFileSync(cv.protoFile, 'utf8') };
  }
  return { type: 'object' };
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

/** Servers from transport URLs; credentials and query options stay out (a document is shared). */
function serversOf(servers: Record<string, AsyncApiServerSpec>): Json {
  const out: Json = {};
  for (const [name, spec] of Object.entries(servers)) {
    const { url, description, bindings } = typeof spec === 'string' ? { url: spec, description: undefined, bindings: undefined } : spec;
    const u = parseServerUrl(url);
    const server: Json = { host: u.host, protocol: PROTOCOLS[u.protocol] ?? u.protocol.replace(/:$/, '') };
    if (u.pathname && u.pathname !== '/') server.pathname = u.pathname;
    const others = u.otherHosts.length ? `Also: ${u.otherHosts.join(', ')}.` : '';
    if (description || others) server.description = [description, others].filter(Boolean).join(' ');
    if (bindings && Object.keys(bindings).length) server.bindings = bindings;
    out[safeId(name)] = server;
  }
  return out;
}

/**
 * Protocol, host and path of a transport URL. A NATS server list (`nats://a:4222,b:4222`), which
 * WHATWG URL cannot parse, gives its first host, the others listed apart.
 */
function parseServerUrl(url: string): { protocol: string; host: string; pathname: string; otherHosts: string[] } {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*:)\/\/([^/?#]*)([^?#]*)/.exec(url);
  if (!m) {
    const u = new URL(url); // throws TypeError naming the URL
    return { protocol: u.protocol, host: u.host || 'localhost', pathname: u.pathname, otherHosts: [] };
  }
  const hosts = m[2]!.split(',').map((h) => h.replace(/^.*@/, '')).filter(Boolean);
  return { protocol: m[1]!.toLowerCase(), host: hosts[0] ?? 'localhost', pathname: m[3] ?? '', otherHosts: hosts.slice(1) };
}
