/**
 * Benchmark building blocks. A scenario file in `bench/scenarios/` default-exports a list of
 * scenarios; `npm run bench -- [prefix…] [--json]` runs those whose names start with a prefix.
 * Every broker scenario measures signalbus and the raw client library in the same run, with
 * the same payload, the same in-flight window and the same broker: `ratio` = signalbus / raw.
 */
export interface Measurement {
  msgs: number;
  seconds: number;
  /** Latency percentiles in microseconds, where the scenario measures latency. */
  p50_us?: number;
  p99_us?: number;
}

export interface Scenario {
  /** `<transport>-<what>`, e.g. `nats-pubsub`; the prefix selects it. */
  name: string;
  /** What it measures, one line for RESULTS.md. */
  description: string;
  /** The measurement through signalbus. */
  run(): Promise<Measurement>;
  /** The same work with the raw client library, when there is one. */
  raw?(): Promise<Measurement>;
}

export interface ScenarioResult {
  name: string;
  msgs: number;
  seconds: number;
  msgs_per_s: number;
  p50_us?: number;
  p99_us?: number;
  raw_msgs_per_s?: number;
  /** The raw side's (or the peer's) latencies, where the scenario measures them: targets compare tails too. */
  raw_p50_us?: number;
  raw_p99_us?: number;
  ratio?: number;
}

/** A ~200-byte JSON sensor reading, the payload every scenario uses. */
export function sensorReading(i: number): Record<string, unknown> {
  return {
    deviceId: `sensor-${i % 20}`, seq: i, ts: 1_763_000_000_000 + i, temperature: 21.5 + (i % 10) / 10,
    humidity: 40 + (i % 7), site: 'berlin', firmware: '2.4.1', battery: 0.87, status: 'ok', tags: ['roof', 'north'],
  };
}

/** Percentile of sorted microsecond samples. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Runs `send(i)` for i in [0, n) keeping at most `window` in flight; resolves when all settled. */
export async function windowed(n: number, window: number, send: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  const worker = async () => { while (next < n) { const i = next++; await send(i); } };
  await Promise.all(Array.from({ length: Math.min(window, n) }, worker));
}

/** Latency of `n` sequential-in-window round trips: returns sorted microsecond samples. */
export async function latencies(n: number, window: number, roundTrip: (i: number) => Promise<unknown>): Promise<number[]> {
  const samples: number[] = [];
  await windowed(n, window, async (i) => {
    const t0 = performance.now();
    await roundTrip(i);
    samples.push((performance.now() - t0) * 1000);
  });
  return samples.sort((a, b) => a - b);
}

/** Resolves when `done()` holds, polling without adding timers to the hot path. */
export async function until(done: () => boolean, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error('benchmark timed out waiting for deliveries');
    await new Promise((r) => setTimeout(r, 1));
  }
}

export function toResult(name: string, m: Measurement, raw?: Measurement): ScenarioResult {
  const r: ScenarioResult = { name, msgs: m.msgs, seconds: round(m.seconds, 3), msgs_per_s: Math.round(m.msgs / m.seconds) };
  if (m.p50_us !== undefined) r.p50_us = Math.round(m.p50_us);
  if (m.p99_us !== undefined) r.p99_us = Math.round(m.p99_us);
  if (raw) {
    r.raw_msgs_per_s = Math.round(raw.msgs / raw.seconds);
    if (raw.p50_us !== undefined) r.raw_p50_us = Math.round(raw.p50_us);
    if (raw.p99_us !== undefined) r.raw_p99_us = Math.round(raw.p99_us);
    r.ratio = round(r.msgs_per_s / r.raw_msgs_per_s, 2);
  }
  return r;
}

const round = (x: number, d: number) => Math.round(x * 10 ** d) / 10 ** d;
