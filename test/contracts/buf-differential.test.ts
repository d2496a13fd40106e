import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import fc from 'fast-check';
import { checkCompatibility, formatChange, type SchemaDocument } from '../../contracts/index.js';
import { parseProto } from '../../contracts/protobuf-schema.js';
import { missingPrerequisite } from '../helpers/brokers.js';
import { evolutionArb, printProto, type FileModel } from './proto-evolution.js';
import { CI_PROPERTY_SEED } from '../helpers/property-seed.js';

// Differential test: generated protobuf evolutions go through the real buf (`buf breaking
// --against`, WIRE category) and through signalbus's BACKWARD check; the verdicts must agree.
// The cases are batched: one file per case, in its own package, one buf run per batch.
// SIGNALBUS_FUZZ_CASES sets how many (`npm run fuzz` runs thousands), SIGNALBUS_FUZZ_SEED the seed.

const BUF = resolve('node_modules/.bin/buf');
const CASES = Number(process.env.SIGNALBUS_FUZZ_CASES ?? 2000);
// Under CI=true one fixed seed (test/helpers/property-seed.ts): a red CI run is a regression.
const SEED = Number(process.env.SIGNALBUS_FUZZ_SEED ?? (process.env.CI === 'true' && process.env.SIGNALBUS_FUZZ_CASES === undefined ? CI_PROPERTY_SEED : Date.now() % 2 ** 31));
const BATCH = 1000;
const BUF_CONFIG = JSON.stringify({ version: 'v2', breaking: { use: ['WIRE'] } });

interface Pair { before: FileModel; after: FileModel }

/** buf's verdict on each pair: the rule ids it reports per case (empty: not breaking). */
function bufVerdicts(pairs: Pair[], firstIndex: number): string[][] {
  const dir = mkdtempSync(join(tmpdir(), 'sb-buf-'));
  try {
    mkdirSync(join(dir, 'old'));
    mkdirSync(join(dir, 'new'));
    pairs.forEach((p, k) => {
      writeFileSync(join(dir, 'old', `c${firstIndex + k}.proto`), printProto(p.before, `c${firstIndex + k}`));
      writeFileSync(join(dir, 'new', `c${firstIndex + k}.proto`), printProto(p.after, `c${firstIndex + k}`));
    });
    const run = spawnSync(BUF, ['breaking', '--against', '../old', '--config', BUF_CONFIG, '--error-format', 'json'], { cwd: join(dir, 'new'), encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    if (run.status !== 0 && run.status !== 100) throw new Error(`buf failed (exit ${run.status}): ${run.stderr}${run.stdout.slice(0, 2000)}`);
    const verdicts = pairs.map(() => [] as string[]);
    for (const line of run.stdout.split('\n').filter(Boolean)) {
      const finding = JSON.parse(line) as { path: string; type: string };
      const k = Number(/c(\d+)\.proto$/.exec(finding.path)![1]) - firstIndex;
      verdicts[k]!.push(finding.type);
    }
    return verdicts;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function signalbusDoc(m: FileModel): SchemaDocument {
  return { format: 'protobuf', type: parseProto(printProto(m, 'c')).lookupType('c.M') };
}

describe('contracts compatibility against buf', function () {
  this.timeout(10 * 60_000);

  before(function () {
    // @bufbuild/buf ships a binary per platform; where there is none, say so (and fail under CI=true).
    if (!existsSync(BUF)) missingPrerequisite(this, `the buf binary is not installed at ${BUF} (npm ci installs @bufbuild/buf; it has no binary for ${process.platform}-${process.arch})`);
  });

  it(`contracts compatibility - signalbus BACKWARD agrees with buf breaking (WIRE) on ${CASES} generated evolutions (seed ${SEED})`, () => {
    const pairs = fc.sample(evolutionArb, { numRuns: CASES, seed: SEED });
    const disagreements: string[] = [];
    let breaking = 0;
    for (let start = 0; start < pairs.length; start += BATCH) {
      const batch = pairs.slice(start, start + BATCH);
      const verdicts = bufVerdicts(batch, start);
      batch.forEach((p, k) => {
        const bufBreaking = verdicts[k]!.length > 0;
        const ours = checkCompatibility(signalbusDoc(p.before), signalbusDoc(p.after), 'BACKWARD');
        if (bufBreaking) breaking++;
        if (ours.compatible === !bufBreaking) return;
        disagreements.push([
          `case ${start + k}: buf ${bufBreaking ? `breaking (${[...new Set(verdicts[k])].join(', ')})` : 'compatible'}, signalbus ${ours.compatible ? 'compatible' : 'breaking'}`,
          ...ours.changes.map((c) => `  ${formatChange(c)}`),
          '--- old', printProto(p.before, 'c'), '--- new', printProto(p.after, 'c'),
        ].join('\n'));
      });
    }
    expect(disagreements.length, `${disagreements.length} of ${pairs.length} disagree (seed ${SEED}); first:\n${disagreements.slice(0, 3).join('\n\n')}`).to.equal(0);
    // The generator must exercise both verdicts.
    expect(breaking).to.be.greaterThan(pairs.length / 10);
    expect(pairs.length - breaking).to.be.greaterThan(pairs.length / 10);
  });
});
