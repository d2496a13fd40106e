import { createHash } from 'node:crypto';
import { sleep } from '../../core/abortable-sleep.js';
import { reconnectDelayMs, type Logger, type ResolvedReconnectOptions } from '../../core/index.js';
import { SinkRowRefusedError, SinkSchemaError, SinkUnavailableError } from './errors.js';
import type { SinkPool } from './pg-driver.js';
import { classifyPgError } from './pg-errors.js';
import type { Row } from './rows.js';
import { insertStatement, prepareTable } from './table.js';

/** What the writer reports, per table (the service turns these into metric fields). */
export interface WriterEvents {
  /** A batch committed: `rows` written, of which `inserted` were new (the rest were stored already). */
  committed(table: string, rows: number, inserted: number): void;
  /** A row was refused for good (it is dead-lettered). */
  refused(table: string, sqlstate: string): void;
  /** The database could not take a batch; it is tried again after `delayMs`. */
  retrying(table: string, code: string, attempt: number, delayMs: number, message: string): void;
}

export interface BatchWriterOptions {
  pool: SinkPool;
  schema: string;
  setup: 'create' | 'check';
  maxBatchRows: number;
  maxBatchBytes: number;
  maxBatchDelayMs: number;
  batchesInFlight: number;
  reconnect: ResolvedReconnectOptions;
  logger: Logger;
  events: WriterEvents;
}

/** Where a row's outcome goes; `signal` (the handler's) tells when its caller gave up waiting. */
export interface RowCaller { readonly signal: AbortSignal }

/**
 * One row waiting for its batch. It is its own abort listener (`handleEvent`), registered only
 * once its batch has failed, so the common path makes no closure and adds no listener.
 */
class PendingRow {
  settled = false;
  private watched: AbortSignal | undefined;
  constructor(readonly row: Row, readonly size: number, private readonly caller: RowCaller | undefined,
    private readonly resolve: () => void, private readonly reject: (err: unknown) => void) {}

  succeed(): void { if (this.end()) this.resolve(); }
  fail(err: unknown): void { if (this.end()) this.reject(err); }

  /** From now on, the caller giving up (the Bus stopping past its grace period) settles the row. */
  watch(): void {
    if (this.settled || this.watched !== undefined || this.caller === undefined) return;
    const signal = this.caller.signal;
    if (signal.aborted) { this.handleEvent(); return; }
    this.watched = signal;
    signal.addEventListener('abort', this, { once: true });
  }

  handleEvent(): void {
    this.fail(new SinkUnavailableError('the sink stopped waiting for the database; the message is left to redelivery'));
  }

  private end(): boolean {
    if (this.settled) return false;
    this.settled = true;
    this.watched?.removeEventListener('abort', this);
    return true;
  }
}

interface Batch {
  table: string;
  rows: PendingRow[];
  bytes: number;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Gathers rows into one batch per table, closed by row count, size or age, and writes each batch
 * as one INSERT (its own transaction). A row's promise resolves only after its batch committed,
 * so the Bus acks a message only once it is stored. While the database is unreachable a batch is
 * tried again with backoff for as long as the writer runs, and the rows' handlers stay pending:
 * the subscription's `maxInFlight` then stops the intake (backpressure), nothing is dropped.
 * A batch the database refuses for a row's content is written row by row, so only the refused
 * rows fail (SinkRowRefusedError, dead-lettered), and the others are stored.
 */
export class BatchWriter {
  private readonly open = new Map<string, Batch>();
  private readonly waiting: Batch[] = [];
  private readonly running = new Set<Promise<void>>();
  private readonly prepared = new Map<string, Promise<void>>();
  private readonly statements = new Map<string, { name: string; text: string }>();
  private readonly stopping = new AbortController();

  constructor(private readonly o: BatchWriterOptions) {}

  /**
   * Resolves once the row is stored (or was already: same source and id); rejects with
   * SinkRowRefusedError or SinkSchemaError (permanent) or SinkUnavailableError (the writer or
   * the caller stopped before the database came back).
   */
  write(table: string, row: Row, size: number, caller?: RowCaller): Promise<void> {
    if (this.stopping.signal.aborted) return Promise.reject(new SinkUnavailableError('the sink is stopped'));
    return new Promise<void>((resolve, reject) => {
      let batch = this.open.get(table);
      if (batch === undefined) {
        batch = { table, rows: [], bytes: 0, timer: undefined };
        this.open.set(table, batch);
        batch.timer = setTimeout(this.closeByAge, this.o.maxBatchDelayMs, batch);
      }
      batch.rows.push(new PendingRow(row, size, caller, resolve, reject));
      batch.bytes += size;
      if (batch.rows.length >= this.o.maxBatchRows || batch.bytes >= this.o.maxBatchBytes) this.close(batch);
    });
  }

  /** Creates or checks a table now rather than with its first batch (a fixed table, at start). */
  prepare(table: string): Promise<void> {
    let p = this.prepared.get(table);
    if (p === undefined) {
      p = prepareTable(this.o.pool, this.o.schema, table, this.o.setup);
      this.prepared.set(table, p);
      // A failure is not kept: the next batch prepares again (the database may be back, the table fixed).
      p.catch(() => { if (this.prepared.get(table) === p) this.prepared.delete(table); });
    }
    return p;
  }

  /**
   * Writes what is open and waits for the batches under way, each tried once more at most: rows
   * the database still cannot take fail with SinkUnavailableError. Does not close the pool.
   */
  async stop(): Promise<void> {
    for (const batch of [...this.open.values()]) this.close(batch);
    // Each batch is still tried once; one that fails now is not tried again.
    this.stopping.abort();
    while (this.running.size > 0) await Promise.all([...this.running]);
  }

  private readonly closeByAge = (batch: Batch): void => {
    batch.timer = undefined;
    if (this.open.get(batch.table) === batch) this.close(batch);
  };

  private close(batch: Batch): void {
    this.open.delete(batch.table);
    if (batch.timer !== undefined) { clearTimeout(batch.timer); batch.timer = undefined; }
    if (this.running.size < this.o.batchesInFlight) this.start(batch);
    else this.waiting.push(batch);
  }

  private start(batch: Batch): void {
    const run = this.flush(batch).finally(() => {
      this.running.delete(run);
      const next = this.waiting.shift();
      if (next !== undefined) this.start(next);
    });
    this.running.add(run);
  }

  /** Writes a batch, trying again while the database is unavailable, until every row is settled. */
  private async flush(batch: Batch): Promise<void> {
    const { table } = batch;
    for (let attempt = 1; ; attempt++) {
      const rows = batch.rows.filter((p) => !p.settled);
      if (rows.length === 0) return;
      try {
        await this.prepare(table);
        try {
          const inserted = await this.insert(table, rows);
          this.o.events.committed(table, rows.length, inserted);
          for (const p of rows) p.succeed();
          return;
        } catch (err) {
          if (classifyPgError(err).kind !== 'refused') throw err;
          await this.rowByRow(table, rows);
          return;
        }
      } catch (err) {
        if (err instanceof SinkSchemaError) { for (const p of rows) p.fail(err); return; }
        const failure = classifyPgError(err);
        const code = failure.kind === 'unavailable' ? failure.code : failure.sqlstate;
        if (failure.kind === 'unavailable' && failure.tableMissing) this.prepared.delete(table);
        if (this.stopping.signal.aborted) {
          for (const p of rows) p.fail(new SinkUnavailableError(`the sink stopped while the database was unavailable (${code}: ${failure.message})`, { cause: err }));
          return;
        }
        // Its callers may give up from now on (the Bus stopping); the rows are not written twice
        // meanwhile: a row whose caller gave up is left out of the next try.
        for (const p of rows) p.watch();
        const delayMs = reconnectDelayMs(this.o.reconnect, attempt);
        this.o.events.retrying(table, code, attempt, delayMs, failure.message);
        await sleep(delayMs, this.stopping.signal);
      }
    }
  }

  /** After a refusal: each row on its own, so only the refused ones fail. A database failure meanwhile is thrown. */
  private async rowByRow(table: string, rows: PendingRow[]): Promise<void> {
    let inserted = 0;
    let written = 0;
    try {
      for (const p of rows) {
        if (p.settled) continue;
        try {
          inserted += await this.insert(table, [p]);
          written++;
          p.succeed();
        } catch (err) {
          const failure = classifyPgError(err);
          if (failure.kind !== 'refused') throw err;
          this.o.events.refused(table, failure.sqlstate);
          p.fail(new SinkRowRefusedError(failure.sqlstate, failure.message, { cause: err, table: `${this.o.schema}.${table}` }));
        }
      }
    } finally {
      if (written > 0) this.o.events.committed(table, written, inserted);
    }
  }

  /** One INSERT of `rows` (one JSON array); the number of rows that were new. */
  private async insert(table: string, rows: readonly PendingRow[]): Promise<number> {
    let json = '[';
    for (let r = 0; r < rows.length; r++) json += (r === 0 ? '' : ',') + rows[r]!.row;
    json += ']';
    const result = await this.o.pool.query({ ...this.statement(table), values: [json] });
    return result.rowCount ?? 0;
  }

  /** The insert of a table as a named statement: parsed and planned once per connection. */
  private statement(table: string): { name: string; text: string } {
    let s = this.statements.get(table);
    if (s === undefined) {
      const text = insertStatement(this.o.schema, table);
      s = { name: `sb_sink_${createHash('sha1').update(text).digest('hex').slice(0, 24)}`, text };
      this.statements.set(table, s);
    }
    return s;
  }
}
