/**
 * A pipeline file as the input of the AsyncAPI export (`signalbus asyncapi --pipeline`): each
 * service's input, output, dead letters and metric fields become its operations, the transports
 * its servers, and the contracts flowing between services its messages.
 */
import type { AsyncApiContractRef, AsyncApiOptions, AsyncApiServerSpec, AsyncApiService } from '../../contracts/asyncapi.js';
import { guessContract, routerOf } from '../../contracts/asyncapi.js';
import type { ContractRegistry } from '../../contracts/registry.js';
import { deadLetterSubject, toAmqpRoutingKey, toMqttTopic } from '../../core/index.js';
import { AGGREGATE_DEFAULTS, ALERT_DEFAULTS, INGEST_DEFAULTS, nanoserviceConfigSchemas } from '../../nanoservices/index.js';
import { loadPipeline, type Pipeline, type PipelineService } from './load.js';
import { patternsOverlap, planScale } from './scale-plan.js';

/** The metric subject of a service: the Bus publishes its `metric.field` batches there. */
const METRICS_PREFIX = 'signalbus.metrics.';
const DEAD_LETTER_PREFIX = 'dlq';

/** What one service consumes and publishes, read from its kind and config. */
interface ServiceFlow {
  name: string;
  kind: string;
  input: string;
  /** Ingest: payloads that are not CloudEvents. */
  raw: boolean;
  /** Names of the input's `*` tokens (ingest `subjectTokens`). */
  tokenNames: Record<number, string>;
  group?: string;
  output?: {
    template: string;
    /** The contracts published, or `forwarded`: whatever the input carries (filter). */
    contracts: AsyncApiContractRef[] | 'forwarded';
    /** Where a `{placeholder}` is read from. */
    placeholderSources: Record<string, string>;
  };
}

function str(v: unknown): string | undefined { return typeof v === 'string' ? v : undefined; }

/** The channels of one service; defaults are the kinds' own (INGEST_DEFAULTS, AGGREGATE_DEFAULTS, ALERT_DEFAULTS). */
function flowOf(s: PipelineService): ServiceFlow {
  const c = s.config;
  const base = { name: s.name ?? s.kind, kind: s.kind, raw: false, tokenNames: {}, group: str(c.group) };
  const dataSources = (template: string, keyAs?: string): Record<string, string> => Object.fromEntries(
    [...template.matchAll(/\{([^{}]*)\}/g)].map(([, p]) => [p!, p === keyAs || p === 'key' ? `the key (${str(c.keyField) ?? 'partitionkey'})` : `data.${p}`]));
  switch (s.kind) {
    case 'ingest': {
      const template = str(c.output) ?? INGEST_DEFAULTS.output;
      const tokens = (c.subjectTokens as Record<string, number> | undefined) ?? INGEST_DEFAULTS.subjectTokens;
      return {
        ...base, input: str(c.input) ?? INGEST_DEFAULTS.input, raw: true,
        tokenNames: Object.fromEntries(Object.entries(tokens).map(([name, i]) => [i, name])),
        output: { template, contracts: [{ type: str(c.type) ?? INGEST_DEFAULTS.type, version: str(c.version) ?? INGEST_DEFAULTS.version }], placeholderSources: dataSources(template) },
      };
    }
    case 'filter': {
      const template = String(c.output);
      const sources = Object.fromEntries([...template.matchAll(/\{([^{}]*)\}/g)].map(([, p]) => [p!, p!]));
      return { ...base, input: String(c.input), output: { template, contracts: 'forwarded', placeholderSources: sources } };
    }
    case 'aggregate': {
      const template = str(c.output) ?? AGGREGATE_DEFAULTS.output;
      const contracts = [{ type: str(c.type) ?? AGGREGATE_DEFAULTS.type, version: str(c.version) ?? AGGREGATE_DEFAULTS.version }];
      return { ...base, input: String(c.input), output: { template, contracts, placeholderSources: dataSources(template, str(c.keyAs)) } };
    }
    case 'alert': {
      const template = str(c.output) ?? ALERT_DEFAULTS.output;
      const version = str(c.version) ?? (c.extendedData === false ? ALERT_DEFAULTS.plainVersion : ALERT_DEFAULTS.version);
      const contracts = [{ type: str(c.raisedType) ?? ALERT_DEFAULTS.raisedType, version }, { type: str(c.resolvedType) ?? ALERT_DEFAULTS.resolvedType, version }];
      return { ...base, input: String(c.input), output: { template, contracts, placeholderSources: dataSources(template, str(c.keyAs)) } };
    }
    default: // sink, and any kind that only consumes
      return { ...base, input: String(c.input) };
  }
}

/** A template as a pattern: a token holding a placeholder is `*` (a value can never add tokens). */
function templatePattern(template: string): string {
  return template.replace(/\{[^{}]*\}/g, '\u0000').split('.').map((t) => (t.includes('\u0000') ? '*' : t)).join('.');
}

const sameRef = (a: AsyncApiContractRef, b: AsyncApiContractRef) => a.type === b.type && a.version === b.version;

/**
 * What each service consumes: the contracts the pipeline's own services publish into its input
 * (a filter forwards what it receives, so this runs until nothing changes), else the contract
 * the input's leading tokens name, else unknown (undefined).
 */
function inputContracts(flows: ServiceFlow[], registry: ContractRegistry): Map<string, AsyncApiContractRef[] | undefined> {
  const published = new Map<string, AsyncApiContractRef[]>(flows.map((f) => [f.name, Array.isArray(f.output?.contracts) ? [...f.output.contracts] : []]));
  const consumed = new Map<string, AsyncApiContractRef[]>();
  for (let changed = true, rounds = 0; changed && rounds <= flows.length; rounds++) {
    changed = false;
    for (const f of flows) {
      const refs: AsyncApiContractRef[] = [];
      for (const up of flows) {
        if (up === f || !up.output || !patternsOverlap(templatePattern(up.output.template), f.input)) continue;
        for (const r of published.get(up.name)!) if (!refs.some((x) => sameRef(x, r))) refs.push(r);
      }
      const guess = refs.length === 0 && !f.raw ? guessContract(registry, f.input) : undefined;
      if (guess !== undefined) refs.push({ type: guess });
      consumed.set(f.name, refs);
      if (f.output?.contracts === 'forwarded') {
        const mine = published.get(f.name)!;
        for (const r of refs) if (!mine.some((x) => sameRef(x, r))) { mine.push(r); changed = true; }
      }
    }
  }
  return new Map(flows.map((f) => [f.name, consumed.get(f.name)!.length ? consumed.get(f.name) : undefined]));
}

/** Query options of a transport URL (`?qos=1&exchange=iot`); a NATS server list is not a WHATWG URL. */
function queryOf(url: string): URLSearchParams {
  const q = url.indexOf('?');
  return new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
}

const PROTOCOL_NOTES: Record<string, string> = {
  memory: 'in-process transport (no network): only services of the same process see these channels',
  nats: 'NATS: binary CloudEvents, attributes in ce-* headers',
  mqtt: 'MQTT: subjects as topics (. → /, * → +, > → +/#)',
  amqp: 'AMQP 0-9-1: a topic exchange, the subject as routing key, attributes in cloudEvents:* headers',
  http: 'HTTP: POST /v1/events/<subject>, binary CloudEvents in ce-* headers',
  ws: 'WebSocket: structured CloudEvents, subprotocol cloudevents.json, one event per text frame',
};

function protocolOf(url: string): string {
  const p = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(url)?.[1]?.toLowerCase() ?? '';
  return ({ mqtts: 'mqtt', amqps: 'amqp', wss: 'ws', https: 'http', tls: 'nats' } as Record<string, string>)[p] ?? p;
}

/** A transport as a server: what its protocol means here and the options of its URL that a consumer must match. */
function serverOf(name: string, url: string): AsyncApiServerSpec {
  const protocol = protocolOf(url);
  const q = queryOf(url);
  const notes = [`Transport "${name}".`, PROTOCOL_NOTES[protocol] ? `${PROTOCOL_NOTES[protocol]}.` : ''];
  const bindings: Record<string, unknown> = {};
  if (protocol === 'mqtt') {
    const v = q.get('protocolVersion');
    notes.push(v === '4' ? 'MQTT 3.1.1: the whole CloudEvent as JSON in the payload (structured).' : 'MQTT 5: attributes as user properties (binary).');
    if (q.has('clean')) bindings.mqtt = { cleanSession: q.get('clean') !== '0' && q.get('clean') !== 'false', bindingVersion: '0.2.0' };
  }
  if (protocol === 'nats' && (q.get('jetstream') === '1' || q.get('jetstream') === 'true')) {
    notes.push(`JetStream stream ${q.get('stream') ?? '(default)'} keeps ${q.get('subjects') ?? 'the subjects published'}.`);
  }
  if (protocol === 'amqp') notes.push(`Exchange ${q.get('exchange') ?? 'signalbus'} (topic${q.get('durable') === '1' ? ', durable' : ''})${q.get('queueType') ? `, ${q.get('queueType')} queues` : ''}.`);
  // Only the first host of a list, never credentials: AsyncAPI servers are for sharing.
  const bare = url.split('?')[0]!;
  return { url: protocol === 'memory' ? 'memory://localhost' : bare, description: notes.filter(Boolean).join(' '), bindings };
}

/** Bindings and wire forms of a channel on its transport. */
function channelExtrasOf(p: Pipeline, partitioned: { count: number; subjects: string[] } | undefined) {
  return (subject: string, server: string | undefined): Record<string, unknown> | undefined => {
    const out: Record<string, unknown> = {};
    const url = server !== undefined ? p.transports[server] : undefined;
    const pattern = templatePattern(subject);
    if (url !== undefined) {
      const protocol = protocolOf(url);
      if (protocol === 'mqtt') out['x-signalbus-mqtt-topic'] = toMqttTopic(pattern);
      if (protocol === 'amqp') {
        const q = queryOf(url);
        out['x-signalbus-amqp-routing-key'] = toAmqpRoutingKey(pattern);
        out.bindings = {
          amqp: {
            is: 'routingKey',
            exchange: { name: q.get('exchange') ?? 'signalbus', type: 'topic', durable: q.get('durable') === '1' || q.get('durable') === 'true', autoDelete: false },
            bindingVersion: '0.3.0',
          },
        };
      }
    }
    if (partitioned && partitioned.subjects.some((s) => patternsOverlap(s, pattern))) {
      out['x-signalbus-partitioned'] = { count: partitioned.count, wire: `part.<0..${partitioned.count - 1}>.${subject}`, description: 'Travels with the partition of its partitionkey in front, so each instance takes only the partitions it owns.' };
    }
    return Object.keys(out).length ? out : undefined;
  };
}

/**
 * The AsyncAPI export's input for a validated pipeline: per service a receive operation on its
 * input and send operations on its output, on `dlq.<input>` (dead-letter copies) and on
 * `signalbus.metrics.<service>` (metric.field batches).
 *
 * @example toAsyncApi({ registry, ...pipelineAsyncApi(loadPipeline('pipeline.json', nanoserviceConfigSchemas), registry) })
 */
export function pipelineAsyncApi(p: Pipeline, registry: ContractRegistry): Omit<AsyncApiOptions, 'registry'> {
  const flows = p.services.map(flowOf);
  const consumed = inputContracts(flows, registry);
  const transportNames = Object.keys(p.transports);
  const route = routerOf((p.routes ?? []).map((r) => ({ pattern: r.pattern, server: r.transport })), transportNames[0]);
  const qosOn = (subject: string): number | undefined => {
    const url = p.transports[route(subject) ?? ''];
    const qos = url !== undefined && protocolOf(url) === 'mqtt' ? Number(queryOf(url).get('qos') ?? 0) : undefined;
    return qos === 0 || qos === 1 || qos === 2 ? qos : undefined;
  };
  const mqttBinding = (subject: string) => {
    const qos = qosOn(subject);
    return qos === undefined ? undefined : { mqtt: { qos, bindingVersion: '0.2.0' } };
  };

  const services: AsyncApiService[] = flows.map((f) => {
    const contracts = consumed.get(f.name);
    const inputHints = f.raw ? { raw: true } : contracts ? { contracts } : {};
    const receiveBindings = { ...mqttBinding(f.input), ...(f.group !== undefined && protocolOf(p.transports[route(f.input) ?? ''] ?? '') === 'nats' ? { nats: { queue: f.group, bindingVersion: '0.1.0' } } : {}) };
    const publishes: NonNullable<AsyncApiService['publishes']>[number][] = [];
    if (f.output) {
      const out = f.output.contracts === 'forwarded' ? contracts : f.output.contracts;
      publishes.push({
        subject: f.output.template, ...(out ? { contracts: out } : {}), placeholderSources: f.output.placeholderSources,
        description: f.output.contracts === 'forwarded' ? 'Forwards what passes, contract and version unchanged.' : undefined,
        bindings: mqttBinding(f.output.template),
      });
    }
    const dlq = deadLetterSubject(f.input, DEAD_LETTER_PREFIX);
    publishes.push({
      subject: dlq, ...inputHints, deadLetters: true,
      tokenNames: Object.fromEntries(Object.entries(f.tokenNames).map(([i, n]) => [Number(i) + 1, n])),
      description: 'Dead letters: what it could not handle (invalid at once, failing after its retries), with dlq* headers.',
      bindings: mqttBinding(dlq),
    });
    const metrics = `${METRICS_PREFIX}${f.name}`;
    publishes.push({ subject: metrics, contracts: [{ type: 'metric.field' }], description: 'Metric fields counted since the last batch, every metrics.intervalMs.', bindings: mqttBinding(metrics) });
    return {
      name: f.name,
      description: `${f.kind} service${f.name !== f.kind ? ` "${f.name}"` : ''}`,
      subscriptions: [{
        pattern: f.input, ...inputHints, tokenNames: f.tokenNames,
        ...(Object.keys(receiveBindings).length ? { bindings: receiveBindings } : {}),
        ...(f.raw ? { description: 'Raw payloads (not CloudEvents), mapped and validated into contract events.' } : {}),
      }],
      publishes,
    };
  });

  const servers: Record<string, AsyncApiServerSpec> = {};
  for (const [name, url] of Object.entries(p.transports)) servers[name] = serverOf(name, url);
  if (p.embedded?.mqtt) servers['embedded-mqtt'] = { url: `mqtt://${p.embedded.mqtt.host ?? '127.0.0.1'}:${p.embedded.mqtt.port ?? 1883}`, description: 'The MQTT broker the runner hosts itself.' };
  if (p.embedded?.http) servers['embedded-http'] = { url: p.embedded.http.url, description: 'The HTTP gateway the runner hosts: POST /v1/events/<subject> publishes into the pipeline.' };
  const scaled = p.scale ?? (p.services.some((s) => (s.instances ?? 1) > 1) ? { partitions: undefined } : undefined);
  const partitioned = scaled ? { count: scaled.partitions ?? 16, subjects: planScale(p.services, p.scale?.partitionedInputs ?? []).partitionedSubjects } : undefined;
  return {
    services, servers,
    routes: (p.routes ?? []).map((r) => ({ pattern: r.pattern, server: r.transport })),
    defaultServer: transportNames[0],
    channelExtras: channelExtrasOf(p, partitioned),
    title: p.name,
    ...(p.description ? { description: p.description } : {}),
  };
}

/**
 * Reads a pipeline file for `signalbus asyncapi --pipeline`: the contract directories it names
 * (loaded into the registry first), then the export's input. Bad files throw PipelineInvalidError
 * (SB_ERR_CLI_USAGE) naming the file and the JSON path.
 */
export function readPipelineForAsyncApi(file: string): { contractDirs: string[]; options: (registry: ContractRegistry) => Omit<AsyncApiOptions, 'registry'> } {
  const p = loadPipeline(file, nanoserviceConfigSchemas);
  return { contractDirs: p.contracts?.dirs ?? [], options: (registry) => pipelineAsyncApi(p, registry) };
}
