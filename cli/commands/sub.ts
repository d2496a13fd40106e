import { parseArgs } from 'node:util';
import { Bus, createLogger, OptionsInvalidError, type Envelope } from '../../core/index.js';
import { MemoryTransport } from '../../transports/memory/index.js';
import { busFor, isHostedScheme } from '../connect.js';
import { UsageError } from '../errors.js';
import { subLine } from '../format.js';
import { untilStopped } from '../until-stopped.js';

export const subHelp = `signalbus sub <transport-url> <pattern> [options]

Prints every matching event as one line until interrupted: the subject it arrived on, a space,
and the event as structured CloudEvents JSON (\`cut -d' ' -f2-\` leaves the JSON).
For http:// and ws:// URLs it hosts the gateway / hub at that address and prints what arrives.
A memory:// bus lives in one process: sub sees only what its own process publishes there.

Options:
  --raw          also accept messages that are not CloudEvents (device payloads); JSON payloads show as JSON data
  --group <g>    join consumer group <g>
  --count <n>    exit after <n> events

Examples:
  signalbus sub nats://127.0.0.1:4222 'sensor.>'
  signalbus sub mqtt://127.0.0.1:1883 'devices.*.telemetry' --raw
  signalbus sub http://127.0.0.1:8080 '>'`;

export async function sub(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true,
    options: { raw: { type: 'boolean' }, group: { type: 'string' }, count: { type: 'string' } },
  });
  const [url, pattern] = positionals;
  if (!url || !pattern || positionals.length > 2) throw new UsageError('usage: signalbus sub <transport-url> <pattern> (see signalbus sub --help)');
  const limit = values.count === undefined ? Infinity : Number(values.count);
  if (!(limit > 0 && (limit === Infinity || Number.isInteger(limit)))) throw new UsageError(`--count must be a positive integer, got "${values.count}"`);

  if (/^memory:/i.test(url)) {
    process.stderr.write(`warning: a memory:// bus only sees its own process, so this sub will print nothing another process publishes; use a broker URL (nats://, mqtt://, amqp://) or host one here (http://, ws://)\n`);
  }
  let bus: Bus;
  let closeHost = async () => {};
  if (isHostedScheme(url)) {
    bus = new Bus({ service: 'signalbus-cli', transport: new MemoryTransport(), metrics: false, logger: createLogger({ level: 'error' }) });
    await bus.start();
    closeHost = await hostAt(url, bus);
    process.stderr.write(`hosting ${url}\n`);
  } else {
    bus = (await busFor(url)).bus;
  }
  let seen = 0;
  let finish!: () => void;
  const finished = new Promise<void>((r) => { finish = r; });
  await bus.subscribe(pattern, async (m: Envelope, ctx) => {
    if (seen >= limit) return;
    seen++;
    process.stdout.write(`${subLine(ctx.subject, m)}\n`);
    if (seen >= limit) finish();
  }, { ...(values.group ? { group: values.group } : {}), ...(values.raw ? { raw: true } : {}), ordered: true });
  process.stderr.write(`subscribed to ${pattern}\n`);
  await untilStopped({ finished });
  await closeHost();
  await bus.stop();
  return 0;
}

/** Hosts the HTTP gateway or WebSocket hub of a URL, bridged to `bus`; returns its closer. */
async function hostAt(url: string, bus: Bus): Promise<() => Promise<void>> {
  let scheme: string;
  // hostGateway and hostHub check the URL too, but only once their module has loaded.
  try { scheme = new URL(url).protocol; } catch (cause) {
    throw new OptionsInvalidError(`"${url}" is not a URL; expected e.g. http://127.0.0.1:8080 or ws://127.0.0.1:8080`, { cause, details: { field: 'url' } });
  }
  type Hosted = { close(): Promise<void> };
  const specifier = scheme.startsWith('http') ? '../../gateway/index.js' : '../../hub/index.js';
  const name = scheme.startsWith('http') ? 'hostGateway' : 'hostHub';
  const mod = (await import(specifier).catch(() => ({}))) as Record<string, unknown>;
  const host = mod[name] as ((u: string, b: Bus) => Promise<Hosted>) | undefined;
  if (typeof host !== 'function') throw new UsageError(`this build has no ${scheme.replace(':', '')} transport to host`);
  const hosted = await host(url, bus);
  return () => hosted.close();
}
