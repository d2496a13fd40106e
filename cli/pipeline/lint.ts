import { readFileSync } from 'node:fs';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { BASE_LABELS, checkJsonDepth, MAX_JSON_DEPTH, SignalbusError, validatePattern, type Transport } from '../../core/index.js';
import { ContractRegistry } from '../../contracts/index.js';
import { nanoserviceConfigSchemas, nanoserviceFactories } from '../../nanoservices/index.js';
import '../../transports/index.js';
import { cliTransportFromUrl } from '../connect.js';
import { jsonErrorLine } from '../errors.js';
import { didYouMean } from './did-you-mean.js';
import { expandEnv } from './expand.js';
import { checkFields } from './lint-fields.js';
import { checkCarriage, checkProducersAndConsumers, checkScaleCarriage, inputOf, traceFlows } from './lint-flow.js';
import { errorAt, explainSchema, pointer, type LintFinding } from './lint-schema.js';
import type { KindSchemas, Pipeline } from './load.js';
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

/**
 * Reads, expands and lints a pipeline file: everything `signalbus run` would find only at run
 * time (see `lintPipeline`). A file that cannot be read or parsed is one error at `/`.
 */
export async function lintPipelineFile(file: string, options: LintOptions = {}): Promise<LintResult> {
  let text: string;
  try { text = readFileSync(file, 'utf8'); } catch (cause) { return fatal(`cannot read ${file}: ${(cause as Error).message}`); }
  try { checkJsonDepth(text); } catch { return fatal(`nested deeper than ${MAX_JSON_DEPTH} levels`); }
  let raw: unknown;
  try { raw = JSON.parse(text); } catch (cause) { return fatal(`not valid JSON: ${jsonErrorLine(cause)}`); }
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
  const transports = await checkTransports(p, findings);
  checkRoutes(p, findings);
  checkMetrics(p, findings);
  const valid = checkServices(p, kinds, findings);
  const registry = options.registry ?? loadRegistry(p, findings);
  const flows = traceFlows(p, valid, registry);
  for (const flow of flows) {
    if (registry) checkFields(flow, registry, findings);
    checkCarriage(flow, p, transports, findings);
  }
  checkScaleCarriage(p, flows, transports, findings);
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

/** Each transport made from its URL (never connected): its options checked, its capabilities known. */
async function checkTransports(p: Pipeline, findings: LintFinding[]): Promise<Map<string, Transport>> {
  const out = new Map<string, Transport>();
  for (const [name, url] of Object.entries(p.transports)) {
    try {
      const transport = await cliTransportFromUrl(url);
      out.set(name, transport);
      await transport.close().catch(() => undefined);
    } catch (cause) {
      findings.push(errorAt(pointer('transports', name), messageOf(cause)));
    }
  }
  return out;
}

function checkRoutes(p: Pipeline, findings: LintFinding[]): void {
  const names = Object.keys(p.transports);
  for (const [i, r] of (p.routes ?? []).entries()) {
    try { validatePattern(r.pattern); } catch (cause) { findings.push(errorAt(pointer('routes', i, 'pattern'), messageOf(cause))); }
    if (!names.includes(r.transport)) {
      findings.push(errorAt(pointer('routes', i, 'transport'), `"${r.transport}" is not one of transports (${names.join(', ')})${didYouMean(r.transport, names)}`));
    }
  }
}

function checkMetrics(p: Pipeline, findings: LintFinding[]): void {
  for (const [i, key] of (p.metrics?.labelQueryKeys ?? []).entries()) {
    if ((BASE_LABELS as readonly string[]).includes(key)) findings.push(errorAt(pointer('metrics', 'labelQueryKeys', i), `"${key}" is a label already (${BASE_LABELS.join(', ')})`));
  }
}

/** Each service's kind and config; returns the indexes of services whose config is valid. */
function checkServices(p: Pipeline, kinds: KindSchemas, findings: LintFinding[]): Set<number> {
  const valid = new Set<number>();
  const names = new Map<string, number>();
  for (const [i, s] of p.services.entries()) {
    const name = s.name ?? s.kind;
    if (names.has(name)) findings.push(errorAt(pointer('services', i, 'name'), `"${name}" is also the name of /services/${names.get(name)}; give each service its own name`));
    else names.set(name, i);
    const schema = Object.hasOwn(kinds, s.kind) ? kinds[s.kind] : undefined;
    if (!schema) {
      findings.push(errorAt(pointer('services', i, 'kind'), `must be one of ${Object.keys(kinds).join(', ')}, got "${s.kind}"${didYouMean(s.kind, Object.keys(kinds))}`));
      continue;
    }
    const base = pointer('services', i, 'config');
    const shape = checkShape(schema, s.config, base);
    if (shape.length > 0) { findings.push(...shape); continue; }
    // What the service itself refuses at start (a slide longer than its window, a bad subject template).
    const factory = Object.hasOwn(nanoserviceFactories, s.kind) ? (nanoserviceFactories as Record<string, (c: unknown) => unknown>)[s.kind] : undefined;
    try { factory?.(s.config); } catch (cause) {
      findings.push(errorAt(`${base}${fieldPointer((cause as SignalbusError).details?.field)}`, messageOf(cause)));
      continue;
    }
    const input = inputOf(s);
    try { validatePattern(input); } catch (cause) { findings.push(errorAt(`${base}/input`, messageOf(cause))); continue; }
    valid.add(i);
  }
  return valid;
}

function loadRegistry(p: Pipeline, findings: LintFinding[]): ContractRegistry | undefined {
  try { return new ContractRegistry({ directories: p.contracts?.dirs ?? [] }); } catch (cause) {
    const file = (cause as SignalbusError).details?.file;
    const i = (p.contracts?.dirs ?? []).findIndex((d) => typeof file === 'string' && file.includes(d));
    findings.push(errorAt(i >= 0 ? pointer('contracts', 'dirs', i) : '/contracts', messageOf(cause)));
    return undefined;
  }
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


/** One line per finding: `error /services/1/config/where/path: no such field …`. */
export function formatFinding(f: LintFinding): string {
  return `${f.severity} ${f.path}: ${f.message}`;
}
