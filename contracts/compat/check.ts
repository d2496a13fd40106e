import { ContractLoadError, OptionsInvalidError } from '../../core/errors.js';
import { COMPATIBILITY_MODES } from '../contract.js';
import { jsonSchemaReads } from './json-schema.js';
import { protobufEvolution, protobufReads } from './protobuf.js';
import type { BreakingChange, CompatibilityMode, CompatibilityResult, Direction, SchemaDocument } from './types.js';

/**
 * Reads a mode name, case-insensitively (`backward`, `FULL_TRANSITIVE`); OptionsInvalidError otherwise.
 * @example parseMode('backward') // 'BACKWARD'
 */
export function parseMode(text: string): CompatibilityMode {
  const mode = text.trim().toUpperCase().replace(/-/g, '_') as CompatibilityMode;
  if (!COMPATIBILITY_MODES.includes(mode)) {
    throw new OptionsInvalidError(`unknown compatibility mode "${text}"; use one of ${COMPATIBILITY_MODES.join(', ')}`, { details: { field: 'mode', value: text } });
  }
  return mode;
}

/** The directions a mode checks: BACKWARD → new reads old; FORWARD → old reads new; FULL → both. */
export function directionsOf(mode: CompatibilityMode): Direction[] {
  if (mode === 'NONE') return [];
  if (mode.startsWith('BACKWARD')) return ['backward'];
  if (mode.startsWith('FORWARD')) return ['forward'];
  return ['backward', 'forward'];
}

export function isTransitive(mode: CompatibilityMode): boolean {
  return mode.endsWith('_TRANSITIVE');
}

/**
 * Compares two schemas of the same format under a mode (Confluent semantics: BACKWARD means
 * readers of the new version read data written with the old). A transitive mode on one pair is
 * its plain form; `checkHistory` applies it across versions.
 *
 * @example
 * checkCompatibility({ format: 'json-schema', schema: v1 }, { format: 'json-schema', schema: v2 }, 'BACKWARD').compatible
 */
export function checkCompatibility(previous: SchemaDocument, next: SchemaDocument, mode: CompatibilityMode): CompatibilityResult {
  if (previous.format !== next.format) {
    throw new ContractLoadError(`cannot compare a ${previous.format} schema${at(previous)} with a ${next.format} schema${at(next)}`,
      { details: { file: next.source ?? previous.source, path: '' } });
  }
  const changes: BreakingChange[] = [];
  for (const direction of directionsOf(mode)) {
    const [writer, reader] = direction === 'backward' ? [previous, next] : [next, previous];
    if (writer.format === 'json-schema' && reader.format === 'json-schema') changes.push(...jsonSchemaReads(writer.schema, reader.schema, direction));
    else if (writer.format === 'protobuf' && reader.format === 'protobuf') changes.push(...protobufReads(writer.type, reader.type, direction));
  }
  if (mode !== 'NONE' && previous.format === 'protobuf' && next.format === 'protobuf') changes.push(...protobufEvolution(previous.type, next.type));
  return { mode, compatible: changes.length === 0, changes };
}

/** One pair that failed in a history check. */
export interface HistoryFinding {
  previous: string;
  next: string;
  changes: BreakingChange[];
}

/**
 * Checks versions in order (oldest first): each against the one before it, or against every
 * earlier one for a transitive mode. A version may carry its own mode (the one its contract
 * declares), which then governs its comparisons instead of `mode`, as a registry checks each
 * new version under the mode in force when it is registered.
 * @example checkHistory([{ label: '1.0.0', doc: a }, { label: '1.1.0', doc: b }], 'BACKWARD_TRANSITIVE')
 */
export function checkHistory(versions: ReadonlyArray<{ label: string; doc: SchemaDocument; mode?: CompatibilityMode }>, mode: CompatibilityMode): HistoryFinding[] {
  const findings: HistoryFinding[] = [];
  for (let i = 1; i < versions.length; i++) {
    const next = versions[i]!;
    const nextMode = next.mode ?? mode;
    const earlier = isTransitive(nextMode) ? versions.slice(0, i) : [versions[i - 1]!];
    for (const prev of earlier) {
      const r = checkCompatibility(prev.doc, next.doc, nextMode);
      if (!r.compatible) findings.push({ previous: prev.label, next: next.label, changes: r.changes });
    }
  }
  return findings;
}

function at(doc: SchemaDocument): string {
  return doc.source ? ` (${doc.source})` : '';
}
