import type { Type } from 'protobufjs';
import type { CompatibilityMode } from '../contract.js';

export type { CompatibilityMode };

/**
 * One breaking change: the rule it breaks, where (a JSON path into the data, or a protobuf
 * field path) and what changed. `category` tells reader/writer rules (the new reads the old's
 * data, or the other way) from evolution rules (which look at which schema is the newer, such
 * as a protobuf field removed without reserving its number).
 */
export interface BreakingChange {
  rule: string;
  path: string;
  message: string;
  category: 'read' | 'evolution';
}

/** A schema to compare: JSON Schema (2020-12) or a protobuf message type. */
export type SchemaDocument =
  | { format: 'json-schema'; schema: JsonSchema; source?: string }
  | { format: 'protobuf'; type: Type; source?: string };

export type JsonSchema = boolean | { [keyword: string]: unknown };

/** The outcome of comparing two schemas under a mode. */
export interface CompatibilityResult {
  mode: CompatibilityMode;
  compatible: boolean;
  changes: BreakingChange[];
}

/** Which side reads: in `backward` the new schema reads the old one's data; in `forward` the old reads the new's. */
export type Direction = 'backward' | 'forward';

/** One line per change: `rule path: message`. */
export function formatChange(c: BreakingChange): string {
  return `${c.rule} ${c.path || '/'}: ${c.message}`;
}
