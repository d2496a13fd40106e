/**
 * Assertions for users' own mocha/chai (or node:test) suites. They throw node's AssertionError,
 * which every runner reports as a failed assertion, so contracts/ needs no test library.
 */
import { AssertionError } from 'node:assert';
import { checkCompatibility, parseMode } from './compat/check.js';
import { jsonDocument, loadSchemaFile } from './compat/schema-source.js';
import { explainJsonBreak } from './compat/witness.js';
import { formatChange, type CompatibilityMode, type CompatibilityResult, type JsonSchema, type SchemaDocument } from './compat/types.js';
import { formatIssues, type ContractVersion } from './contract.js';
import { ContractRegistry } from './registry.js';

/** A schema given as a file path, a SchemaDocument, a registered contract version, or a JSON Schema object. */
export type SchemaInput = string | SchemaDocument | ContractVersion | JsonSchema;

/** A contract version or `name@version` (looked up in `registry`, default: the standard contracts). */
export type ContractInput = ContractVersion | string;

let standard: ContractRegistry | undefined;
const standardRegistry = () => (standard ??= new ContractRegistry());

function toDocument(input: SchemaInput): SchemaDocument {
  if (typeof input === 'string') return loadSchemaFile(input);
  if (typeof input === 'object' && input !== null && 'format' in input && (input.format === 'json-schema' || input.format === 'protobuf') && ('schema' in input || 'type' in input)) {
    return input as SchemaDocument;
  }
  if (typeof input === 'object' && input !== null && 'urn' in input && 'definition' in input) {
    const cv = input as ContractVersion;
    if (cv.definition.schema !== undefined) return jsonDocument(cv.definition.schema as JsonSchema, cv.file);
    return { format: 'protobuf', type: cv.protoType!, source: cv.protoFile };
  }
  return jsonDocument(input as JsonSchema);
}

function toContract(input: ContractInput, registry?: ContractRegistry): ContractVersion {
  if (typeof input !== 'string') return input;
  const at = input.lastIndexOf('@');
  const [name, version] = at > 0 ? [input.slice(0, at), input.slice(at + 1)] : [input, undefined];
  return (registry ?? standardRegistry()).get(name, version);
}

/**
 * Fails unless `next` is compatible with `previous` under `mode` (default BACKWARD), listing
 * every breaking change with its rule and path. Returns the result when it passes.
 *
 * @example
 * it('sensor.reading - 2.1.0 stays backward compatible', () => {
 *   assertCompatible('contracts/sensor.reading/2.0.0.json', 'contracts/sensor.reading/2.1.0.json', 'BACKWARD');
 * });
 */
export function assertCompatible(previous: SchemaInput, next: SchemaInput, mode: CompatibilityMode | Lowercase<CompatibilityMode> = 'BACKWARD'): CompatibilityResult {
  const m = parseMode(mode);
  const [before, after] = [toDocument(previous), toDocument(next)];
  const result = checkCompatibility(before, after, m);
  if (!result.compatible) {
    const why = before.format === 'json-schema' && after.format === 'json-schema' ? explainJsonBreak(before.schema, after.schema, m) : [];
    throw new AssertionError({
      message: `schemas are not ${m} compatible:\n${[...result.changes.map(formatChange), ...why].map((l) => `  ${l}`).join('\n')}`,
      actual: result.changes.map(formatChange),
      expected: [],
      operator: 'assertCompatible',
    });
  }
  return result;
}

/**
 * Fails unless `data` is valid for the contract version, naming every failing path.
 * @example assertValid('sensor.reading@2.0.0', { deviceId: 'a', ts: 1, temperature: 20, humidity: 40 });
 */
export function assertValid(contract: ContractInput, data: unknown, registry?: ContractRegistry): void {
  const cv = toContract(contract, registry);
  const issues = cv.check(data);
  if (issues) {
    throw new AssertionError({ message: `${cv.name}@${cv.version}: data is invalid: ${formatIssues(issues)}`, actual: issues, expected: [], operator: 'assertValid' });
  }
}

/**
 * Fails unless `sample`, valid under `fromVersion`, upcasts to data valid under `contract`'s
 * version. Returns the upcast data, for further assertions.
 * @example const v2 = assertUpcasts('sensor.reading@2.0.0', '1.0.0', v1Sample);
 */
export function assertUpcasts(contract: ContractInput, fromVersion: string, sample: unknown, registry?: ContractRegistry): unknown {
  const reg = registry ?? standardRegistry();
  const target = toContract(contract, reg);
  assertValid(`${target.name}@${fromVersion}`, sample, reg);
  let out: unknown;
  try {
    out = reg.upcast(target.name, fromVersion, target.version, sample);
  } catch (err) {
    throw new AssertionError({ message: `${target.name} ${fromVersion} → ${target.version} does not upcast: ${(err as Error).message}`, operator: 'assertUpcasts' });
  }
  assertValid(target, out, reg);
  return out;
}
