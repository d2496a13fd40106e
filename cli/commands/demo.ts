import { parseArgs } from 'node:util';
import { Bus, ContractInvalidError, createLogger, type Envelope } from '../../core/index.js';
import { MemoryTransport } from '../../transports/memory/index.js';
import { UsageError } from '../errors.js';

export const demoHelp = `signalbus demo [--duration 20s] [--devices 20]

Runs the demo on embedded defaults (no external broker): simulated devices (some overheat, some
send malformed payloads), validation with dead letters, alerts with hysteresis, and a live
summary of alerts, dead letters and metric fields. With --duration it stops gracefully and exits 0.`;

/** `20s`, `1500ms`, `2m` or a number of seconds → ms. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!m) throw new UsageError(`--duration "${text}" is not a duration like 15s, 1500ms or 2m`);
  const n = Number(m[1]);
  return m[2] === 'ms' ? n : m[2] === 'm' ? n * 60_000 : n * 1000;
}

interface Reading { deviceId: string; ts: number; temperature: number; humidity: number }

export async function demo(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { duration: { type: 'string' }, devices: { type: 'string', default: '20' } } });
  const durationMs = values.duration === undefined ? Infinity : parseDuration(values.duration);
  const deviceCount = Number(values.devices);
  if (!(Number.isInteger(deviceCount) && deviceCount > 0)) throw new UsageError(`--devices must be a positive integer, got "${values.devices}"`);

  const logger = createLogger({ level: 'error' });
  const transport = new MemoryTransport();
  const bus = new Bus({ service: 'demo@local', transport, logger, metrics: { intervalMs: 1000 }, retry: { maxAttempts: 2, initialDelayMs: 10 } });
  const state = { readings: 0, alertsRaised: 0, alertsResolved: 0, deadLetters: 0, fields: new Map<string, number>() };
  const hot = new Map<string, number>();
  const alerting = new Set<string>();

  await bus.subscribe('devices.*.telemetry', async (m, ctx) => {
    const r = m.data as Partial<Reading>;
    if (typeof r?.temperature !== 'number' || typeof r.ts !== 'number') throw new ContractInvalidError('/temperature must be a number');
    ctx.metric('received', 'forwarded', { query: { device: r.deviceId ?? 'unknown' } });
    await ctx.publish(`sensor.reading.${r.deviceId}`, r, { type: 'sensor.reading', partitionKey: r.deviceId });
  }, { group: 'ingest' });
  await bus.subscribe('sensor.reading.*', async (m, ctx) => {
    const r = m.data as Reading;
    state.readings++;
    const n = r.temperature > 80 ? (hot.get(r.deviceId) ?? 0) + 1 : r.temperature <= 75 ? Math.min(0, (hot.get(r.deviceId) ?? 0)) - 1 : 0;
    hot.set(r.deviceId, n);
    if (n >= 3 && !alerting.has(r.deviceId)) {
      alerting.add(r.deviceId); state.alertsRaised++;
      ctx.metric('threshold', 'raised', { query: { device: r.deviceId, rule: 'overheat' } });
      await ctx.publish(`alerts.${r.deviceId}`, { deviceId: r.deviceId, rule: 'overheat', value: r.temperature, threshold: 80 }, { type: 'alert.raised' });
    } else if (n <= -3 && alerting.has(r.deviceId)) {
      alerting.delete(r.deviceId); state.alertsResolved++;
      ctx.metric('threshold', 'resolved', { query: { device: r.deviceId, rule: 'overheat' } });
      await ctx.publish(`alerts.${r.deviceId}`, { deviceId: r.deviceId, rule: 'overheat', value: r.temperature, threshold: 75 }, { type: 'alert.resolved' });
    }
  }, { ordered: true, maxInFlight: 8 });
  await bus.subscribe('alerts.*', async (m: Envelope) => {
    const a = m.data as { deviceId: string; value: number };
    process.stdout.write(`${m.type === 'alert.raised' ? 'ALERT   ' : 'RESOLVED'} ${a.deviceId} at ${a.value.toFixed(1)} °C\n`);
  });
  await bus.subscribe('dlq.>', async (m) => {
    state.deadLetters++;
    if (state.deadLetters <= 3) process.stdout.write(`DEAD    ${m.dlqsubject}: ${m.dlqreason} (${m.dlqmessage})\n`);
  });
  await bus.subscribe('signalbus.metrics.>', async (m) => {
    for (const f of (m.data as { fields: Array<{ field: string; count: number }> }).fields) state.fields.set(f.field, (state.fields.get(f.field) ?? 0) + f.count);
  });

  const started = Date.now();
  let tick = 0;
  const simulate = setInterval(() => {
    tick++;
    for (let d = 0; d < deviceCount; d++) {
      const deviceId = `sensor-${d}`;
      const overheating = d % 7 === 3 && Math.floor(tick / 40) % 2 === 0;
      const temperature = overheating ? 82 + Math.random() * 6 : 20 + Math.random() * 10;
      const payload = d % 11 === 5 && tick % 25 === 0 ? { deviceId, ts: Date.now(), temperature: 'hot' } : { deviceId, ts: Date.now(), temperature, humidity: 40 + Math.random() * 20 };
      void bus.publish(`devices.${deviceId}.telemetry`, payload).catch(() => {});
    }
  }, 50);
  const summary = setInterval(() => {
    const secs = (Date.now() - started) / 1000;
    process.stdout.write(`[${secs.toFixed(0)}s] readings ${state.readings} (${Math.round(state.readings / secs)}/s)  alerts raised ${state.alertsRaised} resolved ${state.alertsResolved}  dead letters ${state.deadLetters}  metric fields ${state.fields.size}\n`);
  }, 2000);

  await new Promise<void>((resolve) => {
    if (Number.isFinite(durationMs)) setTimeout(resolve, durationMs);
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  clearInterval(simulate); clearInterval(summary);
  await bus.stop();
  process.stdout.write(`\nFinal summary after ${((Date.now() - started) / 1000).toFixed(1)}s\n`);
  process.stdout.write(`  readings ${state.readings}, alerts raised ${state.alertsRaised}, resolved ${state.alertsResolved}, dead letters ${state.deadLetters}\n`);
  process.stdout.write(`  metric fields: ${state.fields.size} distinct; the busiest:\n`);
  for (const [field, count] of [...state.fields].sort((a, b) => b[1] - a[1]).slice(0, 12)) process.stdout.write(`    ${field}  ${count}\n`);
  return 0;
}
