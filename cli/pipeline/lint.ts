import { readFileSync } from 'node:fs';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { BASE_LABELS, checkJsonDepth, compilePattern, hasWildcards, MAX_JSON_DEPTH, SignalbusError, transportFromUrl, validatePattern, type TransportCapabilities } from '../../core/index.js';
import { ContractRegistry, type ContractVersion } from '../../contracts/index.js';
import { nanoserviceConfigSchemas, nanoserviceFactories } from '../../nanoservices/index.js';
import '../../transports/index.js';
import { lookupField } from './contract-fields.js';
import { closest, didYouMean } from './did-you-mean.js';
import { expandEnv } from './expand.js';
import type { KindSchemas, Pipeline, PipelineService } from './load.js';
import { explainSchema, pointer, type LintFinding } from './lint-schema.js';
import { outputPattern, patternsOverlap } from './scale-plan.js';
import { pipelineSchema } from './schema.js';

export type { LintFinding } from './lint-schema.js';

export interface LintOptions {
  /** Config schema of each service kind. Default: the built-in nanoservices'. */
  kinds?: KindSchemas;
  /** Contracts the field paths are resolved against. Default: the standard ones plus the file's `contracts.dirs`. */
  registry?: ContractRegistry;
  /** Environment for `${VAR:-default}`. Default `process.env`. */
  env?: NodeJS.ProcessEnv;
}

/** A lint's outcome: its findings and, when the file could be read, the expanded pipeline. */
export interface LintResult { findings: LintFinding[]; pipeline?: Pipeline }

/** A contract version one service publishes or receives. */
interface ContractRef { name: string; version: string }

/** What the lint knows of one service: where it reads, where it writes and which contracts flow. */
interface ServiceFlow {
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

const INGEST_INPUT = 'devices.*.telemetry';
/** CloudEvents attributes and the extensions signalbus sets: the first segment of an envelope path. */
const ENVELOPE_ATTRIBUTES = ['specversion', 'id', 'source', 'type', 'time', 'subject', 'datacontenttype', 'dataschema', 'data', 'data_base64',
  'traceparent', 'tracestate', 'correlationid', 'causationid', 'partitionkey', 'tenant', 'causationids',
  'dlqreason', 'dlqmessage', 'dlqattempts', 'dlqsubject', 'dlqservice'];

/**
 * Reads, expands and lints a pipeline file: everything `signalbus run` would find only at run
 * time (see `lintPipeline`). A file that cannot be read or parsed is one error at `/`.
 */
export async function lintPipelineFile(file: string, options: LintOptions = {}): Promise<LintResult> {
  let text: string;
  try { text = readFileSync(file, 'utf8'); } catch (cause) { return fatal(`cannot read ${file}: ${(cause as Error).message}`); }
  try { checkJsonDepth(text); } catch { return fatal(`nested deeper than ${MAX_JSON_DEPTH} levels`); }
  let raw: unknown;
  try { raw = JSON.parse(text); } catch (cause) { return fatal(`not valid JSON: ${(cause as Error).message}`); }
  let expanded: unknown;
  try { expanded = expandEnv(raw, options.env ?? process.env); } catch (cause) {
    const path = (cause as SignalbusError).details?.path;
    return { findings: [{ severity: 'error', path: typeof path === 'string' ? path : '/', message: (cause as Error).message.replace(/^\S+: /, '') }] };
  }
  const findings = await lintPipeline(expanded, options);
  return findings.some((f) => f.severity === 'error') ? { findings } : { findings, pipeline: expanded as Pipeline };
}

function fatal(message: string): LintResult {
  return { findings: [{ severity: 'error', path: '/', message }] };
}

/**
 * Lints a parsed (and expanded) pipeline: the file's shape, each service's config (unknown
 * properties get a did-you-mean, enums list their values), field paths resolved against the
 * contract of the subject each service reads, subjects nobody produces and outputs nobody
 * consumes (warnings), and subscriptions routed to a transport that cannot carry them.
 * Every finding names its JSON path.
 *
 * @example
 * for (const f of await lintPipeline(JSON.parse(text))) console.log(`${f.severity} ${f.path}: ${f.message}`);
 */
export async function lintPipeline(value: unknown, options: LintOptions = {}): Promise<LintFinding[]> {
  const kinds = options.kinds ?? nanoserviceConfigSchemas;
  const shape = checkShape(pipelineSchema, value);
  if (shape.length > 0) return shape;
  const p = value as Pipeline;
  const findings: LintFinding[] = [];
  const capabilities = await checkTransports(p, findings);
  checkRoutes(p, findings);
  checkMetrics(p, findings);
  const valid = checkServices(p, kinds, findings);
  const registry = options.registry ?? loadRegistry(p, findings);
  const flows = traceFlows(p, valid, registry);
  for (const flow of flows) {
    if (registry) checkFields(flow, registry, findings);
    checkCarriage(flow, p, capabilities, findings);
  }
  checkProducersAndConsumers(p, flows, findings);
  return findings;
}

// Compiled once per schema object: the kinds' schemas serve every lint of a process.
const ajv = new Ajv2020({ allErrors: true, strict: false });
const compiledSchemas = new WeakMap<object, ValidateFunction>();

/** Validates with ajv (the truth), explained by `explainSchema`; ajv's own words if the explainer finds nothing. */
function checkShape(schema: object, value: unknown, base = ''): LintFinding[] {
  let validate = compiledSchemas.get(schema);
  if (!validate) { validate = ajv.compile(schema); compiledSchemas.set(schema, validate); }
  if (validate(value)) return [];
  const explained = explainSchema(schema as Record<string, unknown>, value, base);
  if (explained.length > 0) return explained;
  return (validate.errors ?? []).slice(0, 1).map((e) => ({ severity: 'error' as const, path: `${base}${e.instancePath}` || '/', message: e.message ?? 'invalid' }));
}

async function checkTransports(p: Pipeline, findings: LintFinding[]): Promise<Map<string, TransportCapabilities>> {
  const out = new Map<string, TransportCapabilities>();
  for (const [name, url] of Object.entries(p.transports)) {
    try {
      // Made, never connected: its URL options are checked and its capabilities read.
      const transport = await transportFromUrl(url);
      out.set(name, transport.capabilities);
      await transport.close().catch(() => undefined);
    } catch (cause) {
      findings.push(error(pointer('transports', name), messageOf(cause)));
    }
  }
  return out;
}

function checkRoutes(p: Pipeline, findings: LintFinding[]): void {
  const names = Object.keys(p.transports);
  for (const [i, r] of (p.routes ?? []).entries()) {
    try { validatePattern(r.pattern); } catch (cause) { findings.push(error(pointer('routes', i, 'pattern'), messageOf(cause))); }
    if (!names.includes(r.transport)) {
      findings.push(error(pointer('routes', i, 'transport'), `"${r.transport}" is not one of transports (${names.join(', ')})${didYouMean(r.transport, names)}`));
    }
  }
}

function checkMetrics(p: Pipeline, findings: LintFinding[]): void {
  for (const [i, key] of (p.metrics?.labelQueryKeys ?? []).entries()) {
    if ((BASE_LABELS as readonly string[]).includes(key)) findings.push(error(pointer('metrics', 'labelQueryKeys', i), `"${key}" is a label already (${BASE_LABELS.join(', ')})`));
  }
}

/** Each service's kind and config; returns the indexes of services whose config is valid. */
function checkServices(p: Pipeline, kinds: KindSchemas, findings: LintFinding[]): Set<number> {
  const valid = new Set<number>();
  const names = new Map<string, number>();
  for (const [i, s] of p.services.entries()) {
    const name = s.name ?? s.kind;
    if (names.has(name)) findings.push(error(pointer('services', i, 'name'), `"${name}" is also the name of /services/${names.get(name)}; give each service its own name`));
    else names.set(name, i);
    const schema = Object.hasOwn(kinds, s.kind) ? kinds[s.kind] : undefined;
    if (!schema) {
      findings.push(error(pointer('services', i, 'kind'), `must be one of ${Object.keys(kinds).join(', ')}, got "${s.kind}"${didYouMean(s.kind, Object.keys(kinds))}`));
      continue;
    }
    const base = pointer('services', i, 'config');
    const shape = checkShape(schema, s.config, base);
    if (shape.length > 0) { findings.push(...shape); continue; }
    // What the service itself refuses at start (a slide longer than its window, a bad subject template).
    const factory = Object.hasOwn(nanoserviceFactories, s.kind) ? (nanoserviceFactories as Record<string, (c: unknown) => unknown>)[s.kind] : undefined;
    try { factory?.(s.config); } catch (cause) {
      findings.push(error(`${base}${fieldPointer((cause as SignalbusError).details?.field)}`, messageOf(cause)));
      continue;
    }
    const input = inputOf(s);
    try { validatePattern(input); } catch (cause) { findings.push(error(`${base}/input`, messageOf(cause))); continue; }
    valid.add(i);
  }
  return valid;
}

function loadRegistry(p: Pipeline, findings: LintFinding[]): ContractRegistry | undefined {
  try { return new ContractRegistry({ directories: p.contracts?.dirs ?? [] }); } catch (cause) {
    const file = (cause as SignalbusError).details?.file;
    const i = (p.contracts?.dirs ?? []).findIndex((d) => typeof file === 'string' && file.includes(d));
    findings.push(error(i >= 0 ? pointer('contracts', 'dirs', i) : '/contracts', messageOf(cause)));
    return undefined;
  }
}

function inputOf(s: PipelineService): string {
  return typeof s.config.input === 'string' ? s.config.input : s.kind === 'ingest' ? INGEST_INPUT : '';
}

/** The contracts a service publishes, as its config (or defaults) names them. */
function emitted(s: PipelineService): ContractRef[] {
  const c = s.config as Record<string, unknown>;
  const str = (v: unknown, fallback: string) => (typeof v === 'string' ? v : fallback);
  switch (s.kind) {
    case 'ingest': return [{ name: str(c.type, 'sensor.reading'), version: str(c.version, '2.0.0') }];
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
function traceFlows(p: Pipeline, valid: Set<number>, registry: ContractRegistry | undefined): ServiceFlow[] {
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
  const literal = tokens.slice(0, tokens.findIndex((t) => t === '*' || t === '>') >>> 0);
  for (let n = literal.length; n > 0; n--) {
    const name = literal.slice(0, n).join('.');
    if (registry.has(name)) return name;
  }
  return undefined;
}

/** A path to check, where it is in the file, and how it reads the message. */
interface PathUse { path: string; at: string; reads: 'data' | 'envelope' | 'output'; label?: string }

/** Field paths of a service, against the contracts it receives (or, for ingest, the one it makes). */
function checkFields(flow: ServiceFlow, registry: ContractRegistry, findings: LintFinding[]): void {
  const s = flow.service;
  const c = s.config as Record<string, unknown>;
  const base = pointer('services', flow.index, 'config');
  // A contract it publishes that the registry lacks: every message would be refused at publish.
  const emitsKnown = s.kind === 'filter' || checkEmitted(flow, registry, base, findings);
  const uses: PathUse[] = [];
  const placeholders = (template: unknown, reads: PathUse['reads']) => {
    if (typeof template !== 'string') return;
    for (const m of template.matchAll(/\{([^{}]*)\}/g)) uses.push({ path: m[1]!, at: `${base}/output`, reads, label: `{${m[1]}}` });
  };
  const timeField = (reads: PathUse['reads']) => uses.push(typeof c.timeField === 'string'
    ? { path: c.timeField, at: `${base}/timeField`, reads }
    : { path: 'ts', at: base, reads, label: 'timeField (default "ts")' });
  switch (s.kind) {
    case 'filter':
      collectPredicatePaths(c.where, `${base}/where`, uses);
      if (typeof c.keyField === 'string') uses.push({ path: c.keyField, at: `${base}/keyField`, reads: 'envelope' });
      placeholders(c.output, 'envelope');
      break;
    case 'aggregate':
      if (typeof c.keyField === 'string') uses.push({ path: c.keyField, at: `${base}/keyField`, reads: 'data' });
      timeField('data');
      (c.fields as string[]).forEach((f, i) => uses.push({ path: f, at: `${base}/fields/${i}`, reads: 'data' }));
      break;
    case 'alert':
      if (typeof c.keyField === 'string') uses.push({ path: c.keyField, at: `${base}/keyField`, reads: 'data' });
      timeField('data');
      (c.rules as Array<{ field: string }>).forEach((r, i) => uses.push({ path: r.field, at: `${base}/rules/${i}/field`, reads: 'data' }));
      break;
    case 'ingest': {
      // The fields ingest writes must be fields of the contract it publishes (closed ones refuse others).
      const made = (path: string, at: string, label?: string) => uses.push({ path, at, reads: 'output', ...(label ? { label } : {}) });
      if (typeof c.key === 'string') made(c.key, `${base}/key`); else made('deviceId', base, 'key (default "deviceId")');
      for (const group of ['subjectTokens', 'static', 'required'] as const) {
        for (const name of Object.keys((c[group] as Record<string, unknown> | undefined) ?? {})) made(name, `${base}/${group}${pointer(name)}`);
      }
      for (const [from, to] of Object.entries((c.rename as Record<string, string> | undefined) ?? {})) made(to, `${base}/rename${pointer(from)}`);
      for (const [i, name] of ((c.pick as string[] | undefined) ?? []).entries()) made(name, `${base}/pick/${i}`);
      for (const field of ['tenantField', 'receivedAt'] as const) if (typeof c[field] === 'string') made(c[field] as string, `${base}/${field}`);
      if (typeof (c.dedupe as { field?: unknown } | undefined)?.field === 'string') made((c.dedupe as { field: string }).field, `${base}/dedupe/field`);
      placeholders(c.output ?? 'sensor.reading.{deviceId}', 'output');
      break;
    }
    default: break;
  }
  if (s.kind === 'aggregate' || s.kind === 'alert') {
    // Output placeholders read the data published, plus the key under its `keyAs` name.
    const keyAs = typeof c.keyAs === 'string' ? c.keyAs : typeof c.keyField === 'string' ? c.keyField.split('.').pop()! : 'deviceId';
    const template = typeof c.output === 'string' ? c.output : s.kind === 'aggregate' ? 'sensor.aggregate.{key}' : 'alerts.{key}';
    for (const m of template.matchAll(/\{([^{}]*)\}/g)) {
      if (m[1] !== keyAs) uses.push({ path: m[1]!, at: typeof c.output === 'string' ? `${base}/output` : base, reads: 'output', label: `{${m[1]}}` });
    }
  }
  for (const use of uses) {
    const contracts = use.reads === 'output' ? (emitsKnown ? flow.emits : []) : flow.receives;
    const finding = resolvePath(use, contracts, registry);
    if (finding) findings.push(finding);
  }
}

function checkEmitted(flow: ServiceFlow, registry: ContractRegistry, base: string, findings: LintFinding[]): boolean {
  let ok = true;
  const c = flow.service.config as Record<string, unknown>;
  for (const ref of flow.emits) {
    if (registry.find(ref.name, ref.version)) continue;
    ok = false;
    const typeField = flow.service.kind === 'alert' ? (ref.name === c.resolvedType ? 'resolvedType' : 'raisedType') : 'type';
    if (!registry.has(ref.name)) {
      findings.push(error(typeof c[typeField] === 'string' ? `${base}/${typeField}` : base, `no contract "${ref.name}" is registered${didYouMean(ref.name, registry.names())}`));
    } else {
      findings.push(error(typeof c.version === 'string' ? `${base}/version` : base, `${ref.name} has no version ${ref.version} (registered: ${registry.versions(ref.name).join(', ')})`));
    }
  }
  return ok;
}

function collectPredicatePaths(predicate: unknown, at: string, uses: PathUse[]): void {
  if (predicate === null || typeof predicate !== 'object') return;
  const p = predicate as Record<string, unknown>;
  for (const op of ['all', 'any'] as const) if (Array.isArray(p[op])) (p[op] as unknown[]).forEach((q, i) => collectPredicatePaths(q, `${at}/${op}/${i}`, uses));
  if (p.not !== undefined) collectPredicatePaths(p.not, `${at}/not`, uses);
  if (typeof p.path === 'string') uses.push({ path: p.path, at: `${at}/path`, reads: 'envelope' });
}

/** One path against the contracts that may carry it: fine when any declares it. */
function resolvePath(use: PathUse, contracts: ContractRef[], registry: ContractRegistry): LintFinding | undefined {
  const what = use.label ? `${use.label}: ` : '';
  let segments = use.path.split('.');
  let prefix = '';
  if (use.reads === 'envelope') {
    const head = segments[0]!;
    if (head !== 'data') {
      if (ENVELOPE_ATTRIBUTES.includes(head)) {
        return segments.length > 1 ? error(use.at, `${what}${head} is an attribute (a string); it has no field ${segments.slice(1).join('.')}`) : undefined;
      }
      // `temperature` for `data.temperature`, or a misspelled attribute.
      const inData = contracts.some((c) => lookupIn(registry, c, segments)?.status === 'found');
      if (inData) return error(use.at, `${what}the envelope has no attribute "${head}"; did you mean data.${use.path}?`);
      const hint = closest(head, ENVELOPE_ATTRIBUTES);
      return hint ? error(use.at, `${what}the envelope has no attribute "${head}"; did you mean ${[hint, ...segments.slice(1)].join('.')}?`)
        : warning(use.at, `${what}"${head}" is no attribute signalbus sets; only an extension a publisher adds itself would match`);
    }
    segments = segments.slice(1);
    prefix = 'data.';
    if (segments.length === 0) return undefined;
  }
  const distinct = contracts.filter((c, i) => contracts.findIndex((d) => d.name === c.name && d.version === c.version) === i);
  const results = distinct.map((c) => ({ c, r: lookupIn(registry, c, segments) })).filter((x) => x.r !== undefined);
  if (results.length === 0 || results.some((x) => x.r!.status === 'found')) return undefined;
  // Versions of one contract guessed from a subject come oldest first: the newest names them.
  const label = [...new Map(results.map((x) => [x.c.name, x.c.version])).entries()].map(([n, v]) => `${n} ${v}`).join(' or ');
  for (const { r } of results) {
    if (r!.status === 'found') continue;
    const { at, known } = r as { at: number; known: string[] };
    const hint = closest(segments[at]!, known);
    if (hint) {
      const meant = `${prefix}${[...segments.slice(0, at), hint, ...segments.slice(at + 1)].join('.')}`;
      const missingEverywhere = results.every((x) => x.r!.status === 'missing');
      return (missingEverywhere ? error : warning)(use.at, `${what}no such field in ${label}; did you mean ${meant}?`);
    }
  }
  if (results.every((x) => x.r!.status === 'missing')) {
    const { at, known } = results[0]!.r as { at: number; known: string[] };
    const where = at === 0 ? '' : ` ${prefix}${segments.slice(0, at).join('.')}`;
    return error(use.at, `${what}no such field in ${label}${known.length ? ` (${where ? `${where.trim()} has` : 'it has'} ${known.map((k) => `${prefix}${[...segments.slice(0, at), k].join('.')}`).join(', ')})` : ''}`);
  }
  return undefined;
}

function lookupIn(registry: ContractRegistry, ref: ContractRef, segments: string[]) {
  const version: ContractVersion | undefined = registry.find(ref.name, ref.version);
  const schema = version?.definition.schema;
  if (schema === undefined || (typeof schema !== 'object' && typeof schema !== 'boolean')) return undefined;
  return lookupField(schema as Record<string, unknown> | boolean, segments);
}

/** The transport a subscription pattern is routed to: the first route matching it, else the first transport. */
function routeOf(p: Pipeline, pattern: string): { transport: string; by: string } {
  for (const [i, r] of (p.routes ?? []).entries()) {
    try { if (compilePattern(r.pattern)(pattern)) return { transport: r.transport, by: `/routes/${i}` }; } catch { /* reported by checkRoutes */ }
  }
  return { transport: Object.keys(p.transports)[0]!, by: 'default' };
}

/** A subscription the transport it is routed to cannot carry: a wildcard without wildcards, a group without groups. */
function checkCarriage(flow: ServiceFlow, p: Pipeline, capabilities: Map<string, TransportCapabilities>, findings: LintFinding[]): void {
  const route = routeOf(p, flow.input);
  const caps = capabilities.get(route.transport);
  if (!caps) return;
  const base = pointer('services', flow.index, 'config');
  const via = route.by === 'default' ? `the default transport "${route.transport}"` : `transport "${route.transport}" (by ${route.by})`;
  if (hasWildcards(flow.input) && !caps.wildcards) {
    findings.push(error(`${base}/input`, `"${flow.input}" is routed to ${via}, which has no wildcard subscriptions; route it to a transport with wildcards or subscribe to a concrete subject`));
  }
  const group = (flow.service.config as Record<string, unknown>).group;
  if (typeof group === 'string' && !caps.queueGroups) {
    findings.push(error(`${base}/group`, `"${flow.input}" is routed to ${via}, which has no consumer groups; remove "group" or route it to a transport with groups`));
  }
}

/**
 * Warnings: input no service publishes to (ingest's raw input aside), output nobody in the
 * pipeline consumes. Services with an invalid config count too, so one error does not bring
 * a warning about every service downstream.
 */
function checkProducersAndConsumers(p: Pipeline, flows: ServiceFlow[], findings: LintFinding[]): void {
  const gateway = p.embedded?.http !== undefined;
  const outputs = p.services.map((s) => safe(() => outputPattern(s))).filter((o): o is string => o !== undefined);
  const inputs = p.services.filter((s) => s.kind !== 'ingest').map((s) => inputOf(s)).filter((i) => i !== '');
  for (const f of flows) {
    const base = pointer('services', f.index, 'config');
    if (f.service.kind !== 'ingest' && !outputs.some((o) => safe(() => patternsOverlap(o, f.input)))) {
      const hint = didYouMean(f.input, outputs);
      findings.push(warning(`${base}/input`, `no service of this pipeline publishes to ${f.input}${hint || (gateway ? ' (only the HTTP gateway or something outside may)' : '; only something outside the pipeline may')}`));
    }
    if (f.output !== undefined && !inputs.some((i) => safe(() => patternsOverlap(f.output!, i)))) {
      const explicit = typeof (f.service.config as Record<string, unknown>).output === 'string';
      const hint = didYouMean(f.output, inputs);
      findings.push(warning(explicit ? `${base}/output` : base, `no service of this pipeline consumes ${explicit ? '' : 'the default output '}${f.output}${hint || '; only subscribers outside the pipeline will see it'}`));
    }
  }
}

function safe<T>(f: () => T): T | undefined {
  try { return f(); } catch { return undefined; }
}

/** `rules[0].field` or `where.all[1].gt` (a service's error field) as a JSON pointer. */
function fieldPointer(field: unknown): string {
  if (typeof field !== 'string' || field === '' || field === 'config') return '';
  const path = field.split(' ')[0]!.replace(/\[(\d+)\]/g, '.$1');
  return path.split('.').filter(Boolean).map((t) => pointer(t)).join('');
}

function messageOf(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}

function error(path: string, message: string): LintFinding { return { severity: 'error', path: path || '/', message }; }
function warning(path: string, message: string): LintFinding { return { severity: 'warning', path: path || '/', message }; }

/** One line per finding: `error /services/1/config/where/path: no such field …`. */
export function formatFinding(f: LintFinding): string {
  return `${f.severity} ${f.path}: ${f.message}`;
}
