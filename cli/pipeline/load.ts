import { readFileSync } from 'node:fs';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { BASE_LABELS, checkJsonDepth, MAX_JSON_DEPTH, TenantSubjects } from '../../core/index.js';
import { jsonErrorLine, UsageError } from '../errors.js';
import { expandEnv } from './expand.js';
import { pipelineSchema } from './schema.js';

export interface PipelineService {
  kind: string;
  name?: string;
  instances?: number;
  config: Record<string, unknown>;
}

/** The `scale` block: how instances share the work. */
export interface PipelineScale {
  partitions?: number;
  coordination: 'nats' | 'amqp' | 'memory';
  url?: string;
  replicas?: number;
  leaseTtlMs?: number;
  checkpointIntervalMs?: number;
  partitionedInputs?: string[];
}

export interface Pipeline {
  name: string;
  description?: string;
  instance?: string;
  transports: Record<string, string>;
  routes?: Array<{ pattern: string; transport: string }>;
  embedded?: { mqtt?: { port?: number; host?: string }; http?: { url: string; transport?: string; options?: Record<string, unknown> } };
  contracts?: { dirs?: string[] };
  metrics?: { intervalMs?: number; labelQueryKeys?: string[] };
  tenantSubjects?: { prefix?: string };
  scale?: PipelineScale;
  services: PipelineService[];
}

/** What a service kind brings: the JSON Schema of its config. */
export interface KindSchemas { [kind: string]: object }

/** Pipeline file problems: one line naming the file, the JSON path and what was expected. */
export class PipelineInvalidError extends UsageError {}

function invalid(file: string, errors: ErrorObject[] | null | undefined, base = ''): PipelineInvalidError {
  const e = errors?.[0];
  if (!e) return new PipelineInvalidError(`${file}: invalid`, { details: { file } });
  const where = `${base}${e.instancePath}` || '/';
  const extra = e.keyword === 'additionalProperties' ? ` "${(e.params as { additionalProperty: string }).additionalProperty}"`
    : e.keyword === 'enum' ? ` (${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')})` : '';
  return new PipelineInvalidError(`${file}: ${where}: ${e.message}${extra}`, { details: { file, path: where, keyword: e.keyword } });
}

/**
 * Reads, expands (`${VAR:-default}`) and validates a pipeline file; each service's config is
 * checked against its kind's schema. Errors name the file, the JSON path and what was expected.
 */
export function loadPipeline(file: string, kinds: KindSchemas, env: NodeJS.ProcessEnv = process.env): Pipeline {
  let text: string;
  try { text = readFileSync(file, 'utf8'); } catch (cause) {
    throw new PipelineInvalidError(`${file}: cannot read: ${(cause as Error).message}`, { cause, details: { file } });
  }
  // Checked on the text: a deeply nested file parses, then overflows the stack of expandEnv and ajv.
  try { checkJsonDepth(text); } catch (cause) {
    throw new PipelineInvalidError(`${file}: nested deeper than ${MAX_JSON_DEPTH} levels`, { cause, details: { file } });
  }
  let raw: unknown;
  try { raw = JSON.parse(text); } catch (cause) {
    throw new PipelineInvalidError(`${file}: not valid JSON: ${jsonErrorLine(cause)}`, { cause, details: { file } });
  }
  return validatePipeline(expandEnv(raw, env), kinds, file);
}

export function validatePipeline(value: unknown, kinds: KindSchemas, file = 'pipeline'): Pipeline {
  const ajv = new Ajv2020({ allErrors: false, strict: false });
  const validate = ajv.compile(pipelineSchema);
  if (!validate(value)) throw invalid(file, validate.errors);
  const p = value as unknown as Pipeline;
  const transportNames = Object.keys(p.transports);
  for (const [i, r] of (p.routes ?? []).entries()) {
    if (!transportNames.includes(r.transport)) {
      throw new PipelineInvalidError(`${file}: /routes/${i}/transport: "${r.transport}" is not one of transports (${transportNames.join(', ')})`,
        { details: { file, path: `/routes/${i}/transport`, keyword: 'transport' } });
    }
  }
  for (const [i, key] of (p.metrics?.labelQueryKeys ?? []).entries()) {
    if ((BASE_LABELS as readonly string[]).includes(key)) {
      throw new PipelineInvalidError(`${file}: /metrics/labelQueryKeys/${i}: "${key}" is a label already (${BASE_LABELS.join(', ')})`,
        { details: { file, path: `/metrics/labelQueryKeys/${i}`, keyword: 'labelQueryKeys' } });
    }
  }
  if (p.tenantSubjects) {
    // The Bus's own check, so the file names the path instead of the first Bus failing at start.
    try { new TenantSubjects(p.tenantSubjects, 'dlq'); } catch (err) {
      throw new PipelineInvalidError(`${file}: /tenantSubjects/prefix: ${(err as Error).message}`, { details: { file, path: '/tenantSubjects/prefix', keyword: 'tenantSubjects' } });
    }
  }
  const compiled = new Map<string, ValidateFunction>();
  const names = new Set<string>();
  for (const [i, s] of p.services.entries()) {
    // Own kinds only: `constructor` or `toString` would find Object.prototype's members.
    const schema = Object.hasOwn(kinds, s.kind) ? kinds[s.kind] : undefined;
    if (!schema) {
      throw new PipelineInvalidError(`${file}: /services/${i}/kind: must be one of ${Object.keys(kinds).join(', ')}, got "${s.kind}"`,
        { details: { file, path: `/services/${i}/kind`, keyword: 'enum' } });
    }
    let check = compiled.get(s.kind);
    if (!check) { check = ajv.compile(schema); compiled.set(s.kind, check); }
    if (!check(s.config)) throw invalid(file, check.errors, `/services/${i}/config`);
    const name = s.name ?? s.kind;
    if (names.has(name)) {
      throw new PipelineInvalidError(`${file}: /services/${i}/name: "${name}" is used twice; give each service its own name`,
        { details: { file, path: `/services/${i}/name`, keyword: 'unique' } });
    }
    names.add(name);
  }
  return p;
}
