/**
 * The soak: every transport at once, each with a slow subscriber (5 ms handler, one at a time), a
 * publisher far faster than it, and a hostile client beside them, for `--duration` (default 10
 * minutes). Every process is its own, so each RSS is its own. It prints, per transport, the RSS of
 * the subscriber (and of the hub or gateway where signalbus is the server) after the first minute,
 * at its highest and at the end, and the publisher's longest stall: the verdict is flat RSS and no
 * stalled publisher.
 *
 *   npx tsx bench/soak/soak.ts [--duration 10m] [--only nats,ws] [--rate 500] [--durable-rate 300] [--hostile-rate 50] [--write]
 *
 * `--write` puts the table in bench/RESULTS.md between the `soak` markers. A benchmark, not a
 * test: run it on a quiet machine. It uses the machine's brokers (NATS 4222 with JetStream,
 * RabbitMQ 5672, Mosquitto 1883) and cleans up what it made there.
 */
import { fork, execFileSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { openSync, readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { connect as natsConnect } from 'nats';
import type { Report, RoleConfig, SoakRole, SoakTransport } from './roles.js';

const ALL: SoakTransport[] = ['nats', 'jetstream', 'amqp', 'mqtt', 'ws', 'http'];
/** Durable transports keep what the slow subscriber has not taken in the broker: publish at a rate the broker can hold for the run. */
const DURABLE = new Set<SoakTransport>(['jetstream', 'amqp']);
/** RSS growth from the end of the first minute to the end of the run that still counts as flat. */
const FLAT_MIB = 32;

const { values } = parseArgs({ options: {
  duration: { type: 'string', default: '10m' }, only: { type: 'string' }, rate: { type: 'string', default: '500' },
  'durable-rate': { type: 'string', default: '300' }, 'hostile-rate': { type: 'string', default: '50' }, write: { type: 'boolean' },
} });
const durationMs = parseDuration(values.duration!);
const transports = values.only ? values.only.split(',') as SoakTransport[] : ALL;
for (const t of transports) if (!ALL.includes(t)) fail(`unknown transport ${t}; known: ${ALL.join(', ')}`);
const here = dirname(fileURLToPath(import.meta.url));
const logDir = mkdtempSync(join(tmpdir(), 'signalbus-soak-'));
const runId = randomUUID().slice(0, 8);

interface Proc { t: SoakTransport; role: SoakRole; child: ChildProcess; samples: Array<{ at: number; r: Report }>; crashed?: string }
const procs: Proc[] = [];
const t0 = Date.now();
/** When every process runs: the run's clock starts here. */
let started = 0;
/** Set once the run is over: processes exiting from now on were asked to. */
let stopping = false;

function parseDuration(s: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(s);
  if (!m) fail(`--duration must look like 10m, 90s or 5000ms, not ${s}`);
  return Number(m[1]) * ({ ms: 1, s: 1000, m: 60_000 }[m[2] as 'ms' | 's' | 'm' ?? 'ms'] ?? 1);
}

function fail(message: string): never {
  console.error(message);
  process.exit(2);
}

function start(t: SoakTransport, role: SoakRole, config: RoleConfig): Promise<Proc & { url?: string }> {
  const log = openSync(join(logDir, `${t}-${role}.log`), 'a');
  const child = fork(join(here, 'roles.ts'), [role, t, JSON.stringify(config)], { execArgv: ['--import', 'tsx'], stdio: ['ignore', log, log, 'ipc'] });
  const proc: Proc = { t, role, child, samples: [] };
  procs.push(proc);
  return new Promise((resolve, reject) => {
    child.on('message', (m: Report | { url: string }) => {
      if ('url' in m) { resolve({ ...proc, url: m.url }); return; }
      proc.samples.push({ at: Date.now() - t0, r: m });
      if (proc.samples.length === 1 && role !== 'server') resolve(proc);
    });
    child.once('exit', (code, signal) => {
      // Before the stop: a crash (out of memory, say), which fails the run; its log says why.
      if (!stopping) proc.crashed = `exited with ${code ?? signal} at ${Math.round((Date.now() - t0) / 1000)} s; see ${join(logDir, `${t}-${role}.log`)}`;
      reject(new Error(`${t} ${role} exited with ${code ?? signal} before it started; see ${join(logDir, `${t}-${role}.log`)}`));
    });
  });
}

function urlOf(t: SoakTransport): string {
  switch (t) {
    case 'nats': return 'nats://127.0.0.1:4222';
    case 'jetstream': return `nats://127.0.0.1:4222?jetstream=1&stream=SB_SOAK_${runId}&subjects=soak.jetstream.>,dlq.soak.jetstream.>&storage=memory&maxAgeMs=120000`;
    case 'amqp': return 'amqp://guest:guest@127.0.0.1:5672';
    case 'mqtt': return 'mqtt://127.0.0.1:1883';
    default: return '';
  }
}

async function startTransport(t: SoakTransport): Promise<void> {
  let url = urlOf(t);
  if (t === 'ws' || t === 'http') url = (await start(t, 'server', { url: '', rate: 0 })).url!;
  const rate = Number(DURABLE.has(t) ? values['durable-rate'] : values.rate);
  await start(t, 'slow-sub', { url, rate: 0 });
  await start(t, 'pub', { url, rate });
  await start(t, 'hostile', { url, rate: Number(values['hostile-rate']) });
}

/** RSS after the first minute (or a tenth of a shorter run), at its highest after it, and at the end, in MiB. */
function rssOf(p: Proc | undefined): { settled: number; max: number; end: number } | undefined {
  if (!p || p.samples.length === 0) return undefined;
  const warm = started + Math.min(60_000, durationMs / 10);
  const after = p.samples.filter((s) => s.at >= warm);
  const series = after.length > 0 ? after : p.samples;
  const mib = (b: number) => Math.round(b / 1048576);
  return { settled: mib(series[0]!.r.rss), max: mib(Math.max(...series.map((s) => s.r.rss))), end: mib(series.at(-1)!.r.rss) };
}

/** The longest run of seconds in which the publisher completed nothing. */
function longestStallS(p: Proc): number {
  let longest = 0; let since = started; let last = -1;
  for (const s of p.samples.filter((x) => x.at >= started)) {
    const n = s.r.counters.published ?? 0;
    if (n > last) { last = n; since = s.at; } else longest = Math.max(longest, s.at - since);
  }
  return Math.round(longest / 100) / 10;
}

function failures(p: Proc): string {
  const entries = Object.entries(p.samples.at(-1)?.r.counters ?? {}).filter(([k]) => k.startsWith('failed '));
  return entries.map(([k, v]) => `${k} ${v}, `).join('');
}

function summary(): string[] {
  const rows = ['| transport | subscriber RSS MiB (1 min → max → end) | server RSS MiB | handled | dropped (counted) | dead letters | published (rate) | publisher longest stall | hostile sent | verdict |',
    '|---|---|---|---|---|---|---|---|---|---|'];
  const seconds = durationMs / 1000;
  for (const t of transports) {
    const of = (role: SoakRole) => procs.find((p) => p.t === t && p.role === role);
    const sub = of('slow-sub')!; const pub = of('pub')!; const host = of('hostile')!; const server = of('server');
    const c = (p: Proc, k: string) => p.samples.at(-1)?.r.counters[k] ?? 0;
    /** Published during the run itself, after every process had started. */
    const atStart = pub.samples.filter((s) => s.at <= started).at(-1)?.r.counters.published ?? 0;
    const rate = Math.round((c(pub, 'published') - atStart) / seconds);
    const subRss = rssOf(sub)!; const serverRss = rssOf(server);
    const stall = longestStallS(pub);
    const crashed = [sub, pub, host, server].filter((p): p is Proc => p?.crashed !== undefined).map((p) => `${p.role} ${p.crashed}`);
    const flat = crashed.length === 0 && subRss.end - subRss.settled < FLAT_MIB && (!serverRss || serverRss.end - serverRss.settled < FLAT_MIB);
    const hostileNotes = Object.entries(host.samples.at(-1)?.r.counters ?? {}).filter(([k]) => k !== 'sent').map(([k, v]) => `${k} ${v}`).join(', ');
    const closed = server ? c(server, 'streamsClosed') : 0;
    rows.push(`| ${t} | ${subRss.settled} → ${subRss.max} → ${subRss.end} | ${serverRss ? `${serverRss.settled} → ${serverRss.max} → ${serverRss.end}${closed ? ` (slow streams closed ${closed})` : ''}` : '—'} | ${c(sub, 'handled')} | ${c(sub, 'dropped')} | ${c(sub, 'deadLettered')} | ${c(pub, 'published')} (${rate}/s; skipped ${c(pub, 'skipped')}, ${failures(pub)}max ${c(pub, 'maxLatencyMs')} ms) | ${stall} s | ${c(host, 'sent')}${hostileNotes ? ` (${hostileNotes})` : ''} | ${flat && stall < 2 && c(pub, 'skipped') === 0 ? 'flat, no stall' : `FAILED${crashed.length ? ` (${crashed.join('; ')})` : ''}`} |`);
  }
  return rows;
}

/** Deletes what soaks made on the machine's brokers: this run's, or (`leftovers`) any earlier run's that crashed before its clean-up. */
async function cleanUp(leftovers = false): Promise<void> {
  if (transports.includes('jetstream')) {
    const nc = await natsConnect({ servers: '127.0.0.1:4222' });
    const jsm = await nc.jetstreamManager();
    const names = leftovers ? (await jsm.streams.names().next()).filter((n) => n.startsWith('SB_SOAK_')) : [`SB_SOAK_${runId}`];
    for (const name of names) await jsm.streams.delete(name).catch(() => false);
    await nc.close();
  }
  if (transports.includes('amqp')) {
    // The group's queues on the machine's RabbitMQ: named after the subscription, so found by name.
    const names = execFileSync('rabbitmqctl', ['-q', 'list_queues', 'name'], { encoding: 'utf8', timeout: 30_000 }).split('\n').filter((n) => n.includes('soak'));
    for (const name of names) execFileSync('rabbitmqctl', ['-q', 'delete_queue', name.trim()], { timeout: 30_000 });
  }
}

console.log(`soak: ${transports.join(', ')} for ${values.duration}; logs in ${logDir}`);
try {
  await cleanUp(true);
  await Promise.all(transports.map(startTransport));
  started = Date.now() - t0;
  console.log(`  every process runs after ${Math.round(started / 1000)} s`);
  const progress = setInterval(() => console.log(`  ${Math.round((Date.now() - t0) / 1000)} s`), 60_000);
  await new Promise((r) => setTimeout(r, durationMs));
  clearInterval(progress);
} catch (err) {
  console.error((err as Error).message);
  process.exitCode = 1;
}
stopping = true;
await Promise.all(procs.map((p) => new Promise<void>((resolve) => {
  if (p.child.exitCode !== null || p.child.signalCode !== null || !p.child.connected) { p.child.kill('SIGKILL'); resolve(); return; }
  const kill = setTimeout(() => p.child.kill('SIGKILL'), 10_000);
  p.child.once('exit', () => { clearTimeout(kill); resolve(); });
  p.child.send({ stop: true }, (err) => { if (err) p.child.kill('SIGKILL'); });
})));
await cleanUp().catch((err) => console.error(`clean-up: ${(err as Error).message}`));
if (process.exitCode) process.exit();
const table = summary();
console.log(table.join('\n'));
if (values.write) {
  const file = join(here, '..', 'RESULTS.md');
  const text = readFileSync(file, 'utf8');
  const block = `<!-- soak -->\n\`npx tsx bench/soak/soak.ts ${process.argv.slice(2).filter((a) => a !== '--write').join(' ')}\` on ${new Date().toISOString().slice(0, 10)}:\n\n${table.join('\n')}\n<!-- /soak -->`;
  writeFileSync(file, /<!-- soak -->[\s\S]*<!-- \/soak -->/.test(text) ? text.replace(/<!-- soak -->[\s\S]*<!-- \/soak -->/, block) : `${text.trimEnd()}\n\n### Soak\n\n${block}\n`);
}
process.exit(0);
