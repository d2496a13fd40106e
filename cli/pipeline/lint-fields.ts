/**
 * Field paths a service's config names (predicates, keys, times, aggregate and alert fields,
 * output placeholders, what ingest writes), resolved against the contracts that reach it.
 */
import type { ContractRegistry, ContractVersion } from '../../contracts/index.js';
import { INGEST_DEFAULTS } from '../../nanoservices/index.js';
import { lookupField } from './contract-fields.js';
import { closest, didYouMean } from './did-you-mean.js';
import type { ContractRef, ServiceFlow } from './lint-flow.js';
import { errorAt, pointer, warningAt, type LintFinding } from './lint-schema.js';

/** CloudEvents attributes and the extensions signalbus sets: the first segment of an envelope path. */
const ENVELOPE_ATTRIBUTES = ['specversion', 'id', 'source', 'type', 'time', 'subject', 'datacontenttype', 'dataschema', 'data', 'data_base64',
  'traceparent', 'tracestate', 'correlationid', 'causationid', 'partitionkey', 'tenant', 'causationids',
  'dlqreason', 'dlqmessage', 'dlqattempts', 'dlqsubject', 'dlqservice'];

/** A path to check, where it is in the file, and how it reads the message. */
interface PathUse { path: string; at: string; reads: 'data' | 'envelope' | 'output'; label?: string }

/** Field paths of a service, against the contracts it receives (or, for ingest, the one it makes). */
export function checkFields(flow: ServiceFlow, registry: ContractRegistry, findings: LintFinding[]): void {
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
      if (typeof c.key === 'string') made(c.key, `${base}/key`); else made(INGEST_DEFAULTS.key, base, `key (default "${INGEST_DEFAULTS.key}")`);
      for (const group of ['subjectTokens', 'static', 'required'] as const) {
        for (const name of Object.keys((c[group] as Record<string, unknown> | undefined) ?? {})) made(name, `${base}/${group}${pointer(name)}`);
      }
      for (const [from, to] of Object.entries((c.rename as Record<string, string> | undefined) ?? {})) made(to, `${base}/rename${pointer(from)}`);
      for (const [i, name] of ((c.pick as string[] | undefined) ?? []).entries()) made(name, `${base}/pick/${i}`);
      for (const field of ['tenantField', 'receivedAt'] as const) if (typeof c[field] === 'string') made(c[field] as string, `${base}/${field}`);
      if (typeof (c.dedupe as { field?: unknown } | undefined)?.field === 'string') made((c.dedupe as { field: string }).field, `${base}/dedupe/field`);
      placeholders(c.output ?? INGEST_DEFAULTS.output, 'output');
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
      findings.push(errorAt(typeof c[typeField] === 'string' ? `${base}/${typeField}` : base, `no contract "${ref.name}" is registered${didYouMean(ref.name, registry.names())}`));
    } else {
      findings.push(errorAt(typeof c.version === 'string' ? `${base}/version` : base, `${ref.name} has no version ${ref.version} (registered: ${registry.versions(ref.name).join(', ')})`));
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
        return segments.length > 1 ? errorAt(use.at, `${what}${head} is an attribute (a string); it has no field ${segments.slice(1).join('.')}`) : undefined;
      }
      // `temperature` for `data.temperature`, or a misspelled attribute.
      const inData = contracts.some((c) => lookupIn(registry, c, segments)?.status === 'found');
      if (inData) return errorAt(use.at, `${what}the envelope has no attribute "${head}"; did you mean data.${use.path}?`);
      const hint = closest(head, ENVELOPE_ATTRIBUTES);
      return hint ? errorAt(use.at, `${what}the envelope has no attribute "${head}"; did you mean ${[hint, ...segments.slice(1)].join('.')}?`)
        : warningAt(use.at, `${what}"${head}" is no attribute signalbus sets; only an extension a publisher adds itself would match`);
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
      return (missingEverywhere ? errorAt : warningAt)(use.at, `${what}no such field in ${label}; did you mean ${meant}?`);
    }
  }
  if (results.every((x) => x.r!.status === 'missing')) {
    const { at, known } = results[0]!.r as { at: number; known: string[] };
    const where = at === 0 ? '' : ` ${prefix}${segments.slice(0, at).join('.')}`;
    return errorAt(use.at, `${what}no such field in ${label}${known.length ? ` (${where ? `${where.trim()} has` : 'it has'} ${known.map((k) => `${prefix}${[...segments.slice(0, at), k].join('.')}`).join(', ')})` : ''}`);
  }
  return undefined;
}

function lookupIn(registry: ContractRegistry, ref: ContractRef, segments: string[]) {
  const version: ContractVersion | undefined = registry.find(ref.name, ref.version);
  const schema = version?.definition.schema;
  if (schema === undefined || (typeof schema !== 'object' && typeof schema !== 'boolean')) return undefined;
  return lookupField(schema as Record<string, unknown> | boolean, segments);
}
