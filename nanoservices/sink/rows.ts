import type { Envelope } from '../../core/index.js';

/**
 * The columns the sink writes, in order, with the PostgreSQL type of each: the CloudEvents
 * attributes, the extensions signalbus sets, every other extension in `extensions`, and the
 * data. `stored_at` (default `now()`) is the table's own.
 */
export const COLUMNS = [
  ['source', 'text'], ['id', 'text'], ['type', 'text'], ['specversion', 'text'], ['subject', 'text'],
  ['time', 'timestamptz'], ['datacontenttype', 'text'], ['dataschema', 'text'],
  ['tenant', 'text'], ['partitionkey', 'text'], ['correlationid', 'text'], ['causationid', 'text'], ['traceparent', 'text'],
  ['extensions', 'jsonb'], ['data', 'jsonb'], ['data_base64', 'text'],
] as const;

/** A row as the sink's insert takes it: one value per column of COLUMNS, JSON as text. */
export type Row = Array<string | null>;

// Attributes that have a column of their own; everything else that is a string is an extension.
const OWN_COLUMN = new Set<string>(['data', 'data_base64', ...COLUMNS.map(([name]) => name)]);

const text = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/**
 * The row of an event and its size in characters (for the batch's byte bound). Binary data goes
 * to `data_base64` (as in the CloudEvents JSON format); anything else to `data` as JSON.
 */
export function toRow(e: Envelope): { row: Row; size: number } {
  let extensions: Record<string, string> | undefined;
  for (const name in e) {
    if (OWN_COLUMN.has(name)) continue;
    const v = e[name];
    if (typeof v === 'string') (extensions ??= {})[name] = v;
  }
  const data = e.data;
  let json: string | null = null;
  let base64: string | null = null;
  if (data instanceof Uint8Array) base64 = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64');
  else if (data !== undefined) json = JSON.stringify(data) ?? null;
  const ext = extensions === undefined ? null : JSON.stringify(extensions);
  const row: Row = [
    e.source, e.id, e.type, e.specversion ?? '1.0', text(e.subject), text(e.time), text(e.datacontenttype), text(e.dataschema),
    text(e.tenant), text(e.partitionkey), text(e.correlationid), text(e.causationid), text(e.traceparent),
    ext, json, base64,
  ];
  let size = 0;
  for (const v of row) if (v !== null) size += v.length;
  return { row, size };
}
