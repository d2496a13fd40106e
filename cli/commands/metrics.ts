import { parseArgs } from 'node:util';
import type { MetricBatch } from '../../core/index.js';
import { busFor } from '../connect.js';
import { UsageError } from '../errors.js';
import { untilStopped } from '../until-stopped.js';

export const metricsHelp = `signalbus metrics <transport-url> [--app <name>] [--count <n>]

Tails metric fields published on signalbus.metrics.<app> (all apps by default) as text lines:
  <field> count=<n> sum=<s> min=<m> max=<M>

Example:
  signalbus metrics nats://127.0.0.1:4222 --app filter`;

export async function metrics(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { app: { type: 'string' }, count: { type: 'string' } } });
  const [url] = positionals;
  if (!url || positionals.length > 1) throw new UsageError('usage: signalbus metrics <transport-url> [--app <name>]');
  const limit = values.count === undefined ? Infinity : Number(values.count);
  if (!(limit > 0 && (limit === Infinity || Number.isInteger(limit)))) throw new UsageError(`--count must be a positive integer, got "${values.count}"`);
  const { bus } = await busFor(url);
  let lines = 0;
  let finish!: () => void;
  const finished = new Promise<void>((r) => { finish = r; });
  const pattern = `signalbus.metrics.${values.app ?? '>'}`;
  await bus.subscribe(pattern, async (m) => {
    const batch = m.data as MetricBatch;
    for (const f of batch.fields ?? []) {
      if (lines >= limit) break;
      lines++;
      process.stdout.write(`${f.field} count=${f.count} sum=${f.sum} min=${f.min} max=${f.max}${f.unit ? ` unit=${f.unit}` : ''}\n`);
    }
    if (lines >= limit) finish();
  });
  process.stderr.write(`subscribed to ${pattern}\n`);
  await untilStopped({ finished });
  await bus.stop();
  return 0;
}
