/**
 * What the demo shows of the metric fields: each field exactly as the services report it
 * (`service:context?query event action`), ranked by its rate over the last `windowMs`.
 * Counts arrive in batches (one per service per interval); a batch is kept until it falls out
 * of the window, so the rate is over what the window really saw.
 */
export class RollingFieldRates {
  private readonly batches: Array<{ at: number; counts: Map<string, number> }> = [];

  constructor(private readonly windowMs = 10_000) {}

  /** Counts of one batch, received at `at` (ms). */
  add(fields: ReadonlyArray<{ field: string; count: number }>, at = Date.now()): void {
    const counts = new Map<string, number>();
    for (const f of fields) counts.set(f.field, (counts.get(f.field) ?? 0) + f.count);
    this.batches.push({ at, counts });
  }

  /** The `n` busiest fields over the window ending at `now`, with their rate per second. */
  top(n: number, now = Date.now()): Array<{ field: string; perSecond: number }> {
    while (this.batches.length > 0 && this.batches[0]!.at <= now - this.windowMs) this.batches.shift();
    if (this.batches.length === 0) return [];
    const totals = new Map<string, number>();
    for (const b of this.batches) for (const [field, count] of b.counts) totals.set(field, (totals.get(field) ?? 0) + count);
    // Over the span the batches cover, but never less than a second: a first batch is not a burst of infinite rate.
    const seconds = Math.max(1, Math.min(this.windowMs, now - this.batches[0]!.at + 1000) / 1000);
    return [...totals].map(([field, count]) => ({ field, perSecond: count / seconds }))
      .sort((a, b) => b.perSecond - a.perSecond || (a.field < b.field ? -1 : 1))
      .slice(0, n);
  }
}

/**
 * Which dead letters the demo prints: the first `inFull`, then at most one every `everyMs`,
 * each sampled line saying how many it stands for, so nobody reads a quiet screen as "no more".
 */
export class DeadLetterSampler {
  private seen = 0;
  private skipped = 0;
  private lastShown = 0;

  constructor(private readonly inFull = 5, private readonly everyMs = 5000) {}

  /** The line prefix to print this dead letter with, or undefined to count it silently. */
  next(now = Date.now()): string | undefined {
    this.seen++;
    if (this.seen <= this.inFull) {
      this.lastShown = now;
      return this.seen === this.inFull ? `(${this.seen} shown; from here on 1 line per ${this.everyMs / 1000}s, sampled)` : '';
    }
    if (now - this.lastShown < this.everyMs) { this.skipped++; return undefined; }
    const label = `(sampled: 1 of ${this.skipped + 1} since the last line, ${this.seen} in all)`;
    this.skipped = 0;
    this.lastShown = now;
    return label;
  }
}
