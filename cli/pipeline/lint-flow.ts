/**
 * How events flow through a pipeline, read from its file: which service publishes what contract
 * where, who receives it, which transport carries each subscription, and what nobody produces
 * or consumes.
 */
import { compilePattern, hasWildcards, type Transport } from '../../core/index.js';
import type { ContractRegistry } from '../../contracts/index.js';
import { INGEST_DEFAULTS } from '../../nanoservices/index.js';
import { didYouMean } from './did-you-mean.js';
import type { Pipeline, PipelineService } from './load.js';
import { errorAt, pointer, warningAt, type LintFinding } from './lint-schema.js';
import { scaleCarriage } from './scale-carriage.js';
import { conflictMessage, followerConflicts, outputPattern, patternsOverlap, planScale } from './scale-plan.js';

/** A contract version one service publishes or receives. */
export interface ContractRef { name: string; version: string }

/** What the lint knows of one service: where it reads, where it writes and which contracts flow. */
export interface ServiceFlow {
  index: number;
  service: PipelineService;
  input: string;
  /** Output as a pattern (`sensor.valid.*`), undefined for a sink. */
  output: string | undefined;
  /** Contracts it publishes (a filter: those it receives). */
  emits: ContractRef[];
  /** Contracts arriving on its input, from the services that publish there. */
  receives: ContractRef[];
  /** No service of the pipeline publishes to its input; `receives` is then guessed from the subject. */
  external: boolean;
}


export function inputOf(s: PipelineService): string {
  return typeof s.config.input === 'string' ? s.config.input : s.kind === 'ingest' ? INGEST_DEFAULTS.input : '';
}

/** The contracts a service publishes, as its config (or defaults) names them. */
function emitted(s: PipelineService): ContractRef[] {
  const c = s.config as Record<string, unknown>;
  const str = (v: unknown, fallback: string) => (typeof v === 'string' ? v : fallback);
  switch (s.kind) {
    case 'ingest': return [{ name: str(c.type, INGEST_DEFAULTS.type), version: str(c.version, INGEST_DEFAULTS.version) }];
    case 'aggregate': return [{ name: str(c.type, 'sensor.aggregate'), version: str(c.version, '1.0.0') }];
    case 'alert': {
      const version = str(c.version, c.extendedData === false ? '1.0.0' : '1.1.0');
      return [{ name: str(c.raisedType, 'alert.raised'), version }, { name: str(c.resolvedType, 'alert.resolved'), version }];
    }
    default: return [];
  }
}

/**
 * Which contracts reach each service: those of the services publishing into its input, a
 * filter passing on what it receives (repeated until nothing changes, for chains of filters).
 * Input nobody in the pipeline publishes is guessed from the subject (`sensor.reading.>` →
 * the contract `sensor.reading`, any of its versions), as contract names double as subjects' first tokens.
 */
export function traceFlows(p: Pipeline, valid: Set<number>, registry: ContractRegistry | undefined): ServiceFlow[] {
  const flows: ServiceFlow[] = [...valid].map((index) => {
    const service = p.services[index]!;
    return { index, service, input: inputOf(service), output: outputPattern(service), emits: emitted(service), receives: [], external: false };
  });
  const key = (c: ContractRef) => `${c.name}@${c.version}`;
  for (let round = 0; round <= flows.length; round++) {
    let changed = false;
    for (const f of flows) {
      if (f.service.kind === 'ingest') continue; // raw payloads from devices, no contract yet
      const producers = flows.filter((o) => o.output !== undefined && patternsOverlap(o.output, f.input));
      const seen = new Set(f.receives.map(key));
      for (const c of producers.flatMap((o) => o.emits)) {
        if (!seen.has(key(c))) { f.receives.push(c); seen.add(key(c)); changed = true; }
      }
      f.external = producers.length === 0;
      if (f.service.kind === 'filter' && f.emits.length !== f.receives.length) { f.emits = [...f.receives]; changed = true; }
    }
    if (!changed) break;
  }
  for (const f of flows) {
    if (!f.external || f.service.kind === 'ingest' || !registry) continue;
    const name = contractOfSubject(f.input, registry);
    if (name) f.receives = registry.versions(name).map((version) => ({ name, version }));
    if (f.service.kind === 'filter') f.emits = [...f.receives];
  }
  return flows;
}

/** The longest run of a pattern's leading literal tokens that names a contract. */
function contractOfSubject(pattern: string, registry: ContractRegistry): string | undefined {
  const tokens = pattern.split('.');
  const wildcard = tokens.findIndex((t) => t === '*' || t === '>');
  const literal = wildcard < 0 ? tokens : tokens.slice(0, wildcard);
  for (let n = literal.length; n > 0; n--) {
    const name = literal.slice(0, n).join('.');
    if (registry.has(name)) return name;
  }
  return undefined;
}

/** The transport a subscription pattern is routed to: the first route matching it, else the first transport. */
function routeOf(p: Pipeline, pattern: string): { transport: string; by: string } {
  for (const [i, r] of (p.routes ?? []).entries()) {
    try { if (compilePattern(r.pattern)(pattern)) return { transport: r.transport, by: `/routes/${i}` }; } catch { /* reported by checkRoutes */ }
  }
  return { transport: Object.keys(p.transports)[0]!, by: 'default' };
}

/** `transport "mqtt" (by /routes/0)`, or `the default transport "local"`. */
function viaOf(route: { transport: string; by: string }): string {
  return route.by === 'default' ? `the default transport "${route.transport}"` : `transport "${route.transport}" (by ${route.by})`;
}

/** A subscription the transport it is routed to cannot carry: a wildcard without wildcards, a group without groups. */
export function checkCarriage(flow: ServiceFlow, p: Pipeline, transports: Map<string, Transport>, findings: LintFinding[]): void {
  const route = routeOf(p, flow.input);
  const caps = transports.get(route.transport)?.capabilities;
  if (!caps) return;
  const base = pointer('services', flow.index, 'config');
  const via = viaOf(route);
  if (hasWildcards(flow.input) && !caps.wildcards) {
    findings.push(errorAt(`${base}/input`, `"${flow.input}" is routed to ${via}, which has no wildcard subscriptions; route it to a transport with wildcards or subscribe to a concrete subject`));
  }
  const group = (flow.service.config as Record<string, unknown>).group;
  if (typeof group === 'string' && !caps.queueGroups) {
    findings.push(errorAt(`${base}/group`, `"${flow.input}" is routed to ${via}, which has no consumer groups; remove "group" or route it to a transport with groups`));
  }
}

/**
 * A scaled pipeline (`scale`) asks more of the transports its inputs travel on, as
 * `signalbus run` checks when each service starts: coordination "nats" needs a NATS server and
 * inputs on a log it can replay (JetStream); "amqp" needs a RabbitMQ and partitioned inputs on
 * quorum queues with a single active consumer. Input from outside with consumer groups is shared instead.
 * A sink overlapping a partitioned subject without being equal to it is an error (see planScale).
 */
export function checkScaleCarriage(p: Pipeline, flows: ServiceFlow[], transports: Map<string, Transport>, findings: LintFinding[]): void {
  const scale = p.scale;
  // A sink overlapping a partitioned subject without being equal to it: `signalbus run` refuses it
  // (scaled, or `instances` > 1 in one process).
  if (scale || p.services.some((s) => (s.instances ?? 1) > 1)) {
    for (const c of safe(() => followerConflicts(p.services, scale?.partitionedInputs ?? [])) ?? []) {
      findings.push(errorAt(`${pointer('services', c.index, 'config')}/input`, conflictMessage(c)));
    }
  }
  if (!scale || scale.coordination === 'memory') return;
  const urls = Object.values(p.transports);
  if (scale.url === undefined && !urls.some((u) => (scale.coordination === 'nats' ? /^(nats|tls):/i : /^amqps?:/i).test(u))) {
    findings.push(errorAt('/scale/coordination', scale.coordination === 'nats'
      ? 'coordination "nats" needs scale.url or a nats:// transport for its leases and checkpoints'
      : 'coordination "amqp" needs scale.url or an amqp:// transport for its checkpoints and heartbeats'));
  }
  const plan = safe(() => planScale(p.services, scale.partitionedInputs ?? []));
  if (!plan) return;
  for (const f of flows) {
    const route = routeOf(p, f.input);
    const transport = transports.get(route.transport);
    if (!transport) continue;
    const carriage = scaleCarriage(scale.coordination, plan.services[f.index]?.partitioned === true, transport);
    if (typeof carriage === 'string') continue;
    findings.push(errorAt(`${pointer('services', f.index, 'config')}/input`,
      `scaled by ${scale.coordination === 'nats' ? 'NATS' : 'AMQP'}, "${f.input}" is routed to ${viaOf(route)}${carriage.problem}`));
  }
}

/**
 * Warnings: input no service publishes to (ingest's raw input aside), output nobody in the
 * pipeline consumes. Services with an invalid config count too, so one error does not bring
 * a warning about every service downstream.
 */
export function checkProducersAndConsumers(p: Pipeline, flows: ServiceFlow[], findings: LintFinding[]): void {
  const gateway = p.embedded?.http !== undefined;
  const outputs = p.services.map((s) => safe(() => outputPattern(s))).filter((o): o is string => o !== undefined);
  const inputs = p.services.filter((s) => s.kind !== 'ingest').map((s) => inputOf(s)).filter((i) => i !== '');
  for (const f of flows) {
    const base = pointer('services', f.index, 'config');
    if (f.service.kind !== 'ingest' && !outputs.some((o) => safe(() => patternsOverlap(o, f.input)))) {
      const hint = didYouMean(f.input, outputs);
      findings.push(warningAt(`${base}/input`, `no service of this pipeline publishes to ${f.input}${hint || (gateway ? ' (only the HTTP gateway or something outside may)' : '; only something outside the pipeline may')}`));
    }
    if (f.output !== undefined && !inputs.some((i) => safe(() => patternsOverlap(f.output!, i)))) {
      const explicit = typeof (f.service.config as Record<string, unknown>).output === 'string';
      const hint = didYouMean(f.output, inputs);
      findings.push(warningAt(explicit ? `${base}/output` : base, `no service of this pipeline consumes ${explicit ? '' : 'the default output '}${f.output}${hint || '; only subscribers outside the pipeline will see it'}`));
    }
  }
}

function safe<T>(f: () => T): T | undefined {
  try { return f(); } catch { return undefined; }
}
