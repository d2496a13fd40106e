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

/** A row's values: one per column of COLUMNS, JSON columns as JSON text. */
export type RowValues = Array<string | null>;

/** A row as the sink's insert takes it: a JSON object, one member per column (see `insertStatement`). */
export type Row = string;

// Attributes that have a column of their own; everything else that is a string is an extension.
const OWN_COLUMN = new Set<string>(['data', 'data_base64', ...COLUMNS.map(([name]) => name)]);

const text = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/**
 * The values of an event's row. Binary data goes to `data_base64` (as in the CloudEvents JSON
 * format); anything else to `data` as JSON.
 */
export function rowValues(e: Envelope): RowValues {
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
  return [
    e.source, e.id, e.type, e.specversion ?? '1.0', text(e.subject), text(e.time), text(e.datacontenttype), text(e.dataschema),
    text(e.tenant), text(e.partitionkey), text(e.correlationid), text(e.causationid), text(e.traceparent),
    ext, json, base64,
  ];
}

// `"name":` of each column, made once; JSON columns take their text as it is, the others are quoted.
const KEYS = COLUMNS.map(([name]) => `"${name}":`);
const IS_JSON = COLUMNS.map(([, type]) => type === 'jsonb');

/**
 * The row of an event as a JSON object and its size in characters (the batch's byte bound). Made
 * by joining strings: the data's JSON is inserted as it is, never escaped again, and a batch is
 * one `[row,row,…]` parameter.
 */
export function toRow(e: Envelope): { row: Row; size: number } {
  const values = rowValues(e);
  let row = '{';
  for (let c = 0; c < values.length; c++) {
    const v = values[c]!;
    if (v === null) continue;
    if (row.length > 1) row += ',';
    row += KEYS[c]! + (IS_JSON[c] ? v : JSON.stringify(v));
  }
  row += '}';
  return { row, size: row.length };
}
