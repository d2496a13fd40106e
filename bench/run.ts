/**
 * `npm run bench -- [prefix…] [--pairs N] [--json] [--no-write] [--in-process]`: runs the scenarios of
 * `bench/scenarios/*.ts` whose names start with a prefix (all without one), prints a table (or
 * JSON lines) and rewrites that scenario's rows in bench/RESULTS.md.
 *
 * A scenario with a raw baseline runs as N alternating raw/signalbus pairs (default 3) and the
 * pair with the median ratio is reported: this VM's two cores are shared, and a burst of load
 * from elsewhere spoils one pair instead of the row.
 *
 * Each scenario runs in a process of its own (as JMH forks per benchmark): in one long process a
 * scenario inherited the heap and the JIT's type feedback of every scenario before it, and
 * memory-publish-handler measured 677k msg/s after the contracts scenarios against 0.9-1.1M
 * alone. Raw and signalbus still alternate inside that process. `--in-process` runs them all in
 * this one, as before.
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { toResult, type Scenario, type ScenarioResult } from './harness.js';
import { recordResults } from './results.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    json: { type: 'boolean' }, 'no-write': { type: 'boolean' }, pairs: { type: 'string', default: '3' }, 'in-process': { type: 'boolean' },
    // internal: the child process measuring one scenario, named exactly
    child: { type: 'string' },
  },
});
const pairs = Number(values.pairs);
if (!Number.isInteger(pairs) || pairs < 1) {
  console.error(`--pairs must be a positive integer, not ${values.pairs}`);
  process.exit(2);
}
const here = dirname(fileURLToPath(import.meta.url));
const scenarios: Scenario[] = [];
for (const file of readdirSync(join(here, 'scenarios')).filter((f) => f.endsWith('.ts')).sort()) {
  const mod = (await import(pathToFileURL(join(here, 'scenarios', file)).href)) as { default: Scenario[] };
  scenarios.push(...mod.default);
}
const chosen = values.child !== undefined
  ? scenarios.filter((s) => s.name === values.child)
  : scenarios.filter((s) => positionals.length === 0 || positionals.some((p) => s.name.startsWith(p)));
if (chosen.length === 0) {
  console.error(`no scenario starts with ${positionals.join(', ')}; known: ${scenarios.map((s) => s.name).join(', ')}`);
  process.exit(2);
}
const results: ScenarioResult[] = [];
for (const s of chosen) {
  try {
    const r = values.child !== undefined || values['in-process'] || chosen.length === 1 ? await measure(s) : await measureInChild(s.name);
    results.push(r);
    if (values.json || values.child !== undefined) console.log(JSON.stringify(r));
    else console.log(`${r.name.padEnd(28)} ${String(r.msgs_per_s).padStart(9)} msg/s` +
      `${r.p50_us !== undefined ? `  p50 ${r.p50_us} µs  p99 ${r.p99_us} µs` : ''}` +
      `${r.raw_msgs_per_s !== undefined ? `  raw ${r.raw_msgs_per_s} msg/s${r.raw_p50_us !== undefined ? `  p50 ${r.raw_p50_us} µs  p99 ${r.raw_p99_us} µs` : ''}  ratio ${r.ratio}` : ''}`);
  } catch (err) {
    console.error(`${s.name}: failed: ${(err as Error).message}`);
    process.exitCode = 1;
  }
}
/** The scenario measured by a fresh process running this script (`--child <name>`); its stderr passes through. */
function measureInChild(name: string): Promise<ScenarioResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--child', name, '--pairs', String(pairs)],
      { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => { out += chunk; });
    child.on('error', reject);
    child.on('close', (code) => {
      const line = out.trim().split('\n').at(-1) ?? '';
      if (code !== 0 || !line.startsWith('{')) reject(new Error(`the process measuring ${name} exited with ${code}${out ? `: ${out.trim().slice(-500)}` : ''}`));
      else resolve(JSON.parse(line) as ScenarioResult);
    });
  });
}

/** Raw first, then signalbus, both on a warm broker in this process; the median-ratio pair of `pairs`. */
async function measure(s: Scenario): Promise<ScenarioResult> {
  if (!s.raw) return toResult(s.name, await s.run());
  const runs: ScenarioResult[] = [];
  for (let i = 0; i < pairs; i++) {
    const raw = await s.raw();
    runs.push(toResult(s.name, await s.run(), raw));
  }
  runs.sort((a, b) => a.ratio! - b.ratio!);
  return runs[runs.length >> 1]!;
}

if (!values['no-write'] && values.child === undefined && results.length > 0) {
  recordResults(join(here, 'RESULTS.md'), results, chosen, ['npm run bench', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' '));
}
process.exit(process.exitCode ?? 0);
