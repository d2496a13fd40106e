import { parseArgs } from 'node:util';
import { Bus, createLogger, transportFromUrl, type Envelope, type MetricBatch } from '../../core/index.js';
import { nanoserviceConfigSchemas } from '../../nanoservices/index.js';
import { UsageError } from '../errors.js';
import { validatePipeline } from '../pipeline/load.js';
import { startPipeline } from '../pipeline/run-pipeline.js';
import { startDevices } from './demo-devices.js';
import { DeadLetterSampler, RollingFieldRates } from './demo-fields.js';

export const demoHelp = `signalbus demo [--duration 20s] [--devices 20] [--mqtt-port 18830] [--http-port 8080]

The main job on embedded defaults, no external broker: an embedded MQTT broker (aedes) on
127.0.0.1:18830, simulated devices publishing raw JSON telemetry to devices/<id>/telemetry (some
overheat, some send malformed payloads), the ingest → filter → aggregate → alert pipeline, an HTTP
gateway on 127.0.0.1:8080 (the web console at /, GET /metrics, GET /v1/stream/<pattern>), and a
live view: alerts as they are raised and resolved, dead letters (the first 5, then sampled, each
sampled line saying so), and every 5s msgs/s and the 10 busiest metric fields, as the services
report them (service:context?query event action, per second over the last 10s). The first line
printed is the console's URL: open it in a browser; the next ones are these commands, with the
ports it really uses. With --duration it stops gracefully, prints a final summary and exits 0.

While it runs (default ports; alerts are on the subjects alerts.<device>):
  curl -N http://127.0.0.1:8080/v1/stream/alerts.%3E
  curl http://127.0.0.1:8080/metrics
  mosquitto_sub -h 127.0.0.1 -p 18830 -t 'alerts/#' -v
  signalbus sub 'mqtt://127.0.0.1:18830?protocolVersion=4' 'alerts.>'`;

/** `20s`, `1500ms`, `2m` or a number of seconds → ms. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!m) throw new UsageError(`--duration "${text}" is not a duration like 15s, 1500ms or 2m`);
  const n = Number(m[1]);
  return m[2] === 'ms' ? n : m[2] === 'm' ? n * 60_000 : n * 1000;
}

function port(value: string, flag: string): number {
  const n = Number(value);
  if (!(Number.isInteger(n) && n > 0 && n < 65536)) throw new UsageError(`${flag} must be a port number, got "${value}"`);
  return n;
}

/** The demo's pipeline: the IoT example's services, on the embedded broker. */
export function demoPipeline(mqttPort: number, httpPort: number) {
  const mqtt = `mqtt://127.0.0.1:${mqttPort}?protocolVersion=4&sharedSubscriptions=false&qos=1`;
  return validatePipeline({
    name: 'demo', instance: 'demo-1',
    transports: { local: 'memory://demo', mqtt },
    routes: [{ pattern: 'devices.>', transport: 'mqtt' }, { pattern: 'alerts.>', transport: 'mqtt' }],
    embedded: { mqtt: { port: mqttPort, host: '127.0.0.1' }, http: { url: `http://127.0.0.1:${httpPort}` } },
    metrics: { intervalMs: 1000 },
    services: [
      { kind: 'ingest', config: { input: 'devices.*.telemetry', subjectTokens: { deviceId: 1 } } },
      { kind: 'filter', config: { input: 'sensor.reading.>', output: 'sensor.valid.{data.deviceId}', keyField: 'data.deviceId', keyAs: 'deviceId', where: { path: 'data.temperature', gte: -50, lte: 150 } } },
      { kind: 'aggregate', config: { input: 'sensor.valid.>', keyField: 'deviceId', keyAs: 'deviceId', fields: ['temperature'], window: { kind: 'tumbling', sizeMs: 5000 } } },
      { kind: 'alert', config: { input: 'sensor.valid.>', keyField: 'deviceId', keyAs: 'deviceId', output: 'alerts.{deviceId}', rules: [
        { name: 'overheat', kind: 'threshold', field: 'temperature', severity: 'critical', raise: { value: 80, forReadings: 3 }, resolve: { value: 75, forReadings: 3 } }] } },
    ],
  }, nanoserviceConfigSchemas);
}

export async function demo(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: {
    duration: { type: 'string' }, devices: { type: 'string', default: '20' },
    'mqtt-port': { type: 'string', default: '18830' }, 'http-port': { type: 'string', default: '8080' },
  } });
  const durationMs = values.duration === undefined ? Infinity : parseDuration(values.duration);
  const deviceCount = Number(values.devices);
  if (!(Number.isInteger(deviceCount) && deviceCount > 0 && deviceCount <= 1000)) throw new UsageError(`--devices must be an integer 1-1000, got "${values.devices}"`);
  const mqttPort = port(values['mqtt-port']!, '--mqtt-port');
  const httpPort = port(values['http-port']!, '--http-port');
  // Else the embedded broker takes the port and the gateway fails on it, which reads as another process' fault.
  if (mqttPort === httpPort) throw new UsageError(`--mqtt-port and --http-port must differ (both ${mqttPort}): the embedded MQTT broker and the HTTP gateway each need their own port`);

  const logger = createLogger({ level: (process.env.SIGNALBUS_LOG_LEVEL as 'error') ?? 'error' });
  const pipeline = demoPipeline(mqttPort, httpPort);
  const running = await startPipeline(pipeline, { logger });
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const gateway = running.hosted.http ?? `http://127.0.0.1:${httpPort}`;
  out(`console: open ${gateway}/ in a browser`);
  out(`  alerts:   curl -N ${gateway}/v1/stream/alerts.%3E`);
  out(`  metrics:  curl ${gateway}/metrics`);
  out(`  MQTT:     mosquitto_sub -h 127.0.0.1 -p ${mqttPort} -t 'alerts/#' -v   (MQTT 3.1.1 broker: signalbus URLs need ?protocolVersion=4)`);
  out(`  ${deviceCount} devices on devices/<id>/telemetry; ingest → filter → aggregate → alert`);

  // A watcher on the same transports, as an operator's tool would be.
  const watcher = new Bus({ service: 'demo-watch', transports: { local: await transportFromUrl('memory://demo'), mqtt: await transportFromUrl(pipeline.transports.mqtt!) },
    routes: pipeline.routes, metrics: false, logger });
  const state = { raised: 0, resolved: 0, dead: 0, readings: 0, perService: new Map<string, number>(), deadReasons: new Map<string, number>() };
  const rates = new RollingFieldRates(10_000);
  const deadLines = new DeadLetterSampler(5, 5000);
  await watcher.subscribe('alerts.>', async (m: Envelope) => {
    const a = m.data as { deviceId?: string; key: string; value: number; rule: string };
    if (m.type === 'alert.raised') state.raised++; else state.resolved++;
    out(`${m.type === 'alert.raised' ? 'ALERT   ' : 'RESOLVED'} ${a.deviceId ?? a.key} ${a.rule} at ${a.value.toFixed(1)} °C`);
  });
  await watcher.subscribe('dlq.>', async (m) => {
    state.dead++;
    const reason = String(m.dlqreason);
    state.deadReasons.set(reason, (state.deadReasons.get(reason) ?? 0) + 1);
    const sampled = deadLines.next();
    if (sampled !== undefined) out(`DEAD    ${m.dlqsubject}: ${reason} (${m.dlqmessage})${sampled ? ` ${sampled}` : ''}`);
  });
  await watcher.subscribe('signalbus.metrics.>', async (m) => {
    const batch = m.data as MetricBatch;
    rates.add(batch.fields);
    let n = 0;
    for (const f of batch.fields) {
      n += f.count;
      if (batch.service === 'filter' && / (passed|rejected) /.test(f.field)) state.readings += f.count;
    }
    state.perService.set(batch.service, (state.perService.get(batch.service) ?? 0) + n);
  });

  const devices = await startDevices({ url: `mqtt://127.0.0.1:${mqttPort}`, count: deviceCount, intervalMs: 100 });
  const started = Date.now();
  const summary = () => {
    const secs = Math.max(0.001, (Date.now() - started) / 1000);
    return `[${secs.toFixed(0)}s] device msgs ${devices.sent} (${Math.round(devices.sent / secs)}/s)  readings ${state.readings}  alerts raised ${state.raised} resolved ${state.resolved}  dead letters ${state.dead}`;
  };
  const topFields = (indent: string) => {
    const top = rates.top(10);
    out(`${indent}top metric fields (per second, last 10s):${top.length === 0 ? ' none yet' : ''}`);
    for (const { field, perSecond } of top) out(`${indent}  ${perSecond.toFixed(1).padStart(7)}/s  ${field}`);
  };
  const ticker = setInterval(() => { out(summary()); topFields('  '); }, 5000);
  await new Promise<void>((resolve) => {
    if (Number.isFinite(durationMs)) setTimeout(resolve, durationMs);
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  clearInterval(ticker);
  await devices.stop();
  await new Promise((r) => setTimeout(r, 300)); // let the last readings through
  await watcher.stop();
  await running.stop();
  out('');
  out(`Final summary after ${((Date.now() - started) / 1000).toFixed(1)}s`);
  out(`  ${summary().replace(/^\[[^\]]*\] /, '')}`);
  topFields('  ');
  out(`  metric fields counted by service: ${[...state.perService].sort().map(([s, n]) => `${s} ${n}`).join(', ') || 'none'}`);
  out(`  dead letters by reason: ${[...state.deadReasons].map(([r, n]) => `${r} ${n}`).join(', ') || 'none'}`);
  return 0;
}
