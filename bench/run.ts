/**
 * `npm run bench -- [prefix…] [--pairs N] [--json] [--no-write]`: runs the scenarios of
 * `bench/scenarios/*.ts` whose names start with a prefix (all without one), prints a table (or
 * JSON lines) and rewrites that scenario's rows in bench/RESULTS.md.
 *
 * A scenario with a raw baseline runs as N alternating raw/signalbus pairs (default 3) and the
 * pair with the median ratio is reported: this VM's two cores are shared, and a burst of load
 * from elsewhere spoils one pair instead of the row.
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { toResult, type Scenario, type ScenarioResult } from './harness.js';
import { recordResults } from './results.js';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { json: { type: 'boolean' }, 'no-write': { type: 'boolean' }, pairs: { type: 'string', default: '3' } } });
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
const chosen = scenarios.filter((s) => positionals.length === 0 || positionals.some((p) => s.name.startsWith(p)));
if (chosen.length === 0) {
  console.error(`no scenario starts with ${positionals.join(', ')}; known: ${scenarios.map((s) => s.name).join(', ')}`);
  process.exit(2);
}
const results: ScenarioResult[] = [];
for (const s of chosen) {
  try {
    const r = await measure(s);
    results.push(r);
    if (values.json) console.log(JSON.stringify(r));
    else console.log(`${r.name.padEnd(28)} ${String(r.msgs_per_s).padStart(9)} msg/s` +
      `${r.p50_us !== undefined ? `  p50 ${r.p50_us} µs  p99 ${r.p99_us} µs` : ''}` +
      `${r.raw_msgs_per_s !== undefined ? `  raw ${r.raw_msgs_per_s} msg/s  ratio ${r.ratio}` : ''}`);
  } catch (err) {
    console.error(`${s.name}: failed: ${(err as Error).message}`);
    process.exitCode = 1;
  }
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

if (!values['no-write'] && results.length > 0) {
  recordResults(join(here, 'RESULTS.md'), results, chosen, `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim());
}
process.exit(process.exitCode ?? 0);
