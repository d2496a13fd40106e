import { expect } from 'chai';
import fc from 'fast-check';
import { checkCompatibility, type JsonSchema, type SchemaDocument } from '../../contracts/index.js';
import { createAjv } from '../../contracts/json-schema-validator.js';
import { findCounterexample } from '../../contracts/compat/witness.js';
import { evolutionArb } from './json-evolution.js';
import { CI_PROPERTY_SEED } from '../helpers/property-seed.js';

// The semantic oracle for JSON Schema, where no reference tool runs offline: for generated
// schema evolutions, search for an instance the writer accepts and the reader rejects. A
// "compatible" verdict with such an instance is a bug in the checker; a "breaking" one without
// it rests on the rule the checker applied (recorded below, not failed: the search is not complete).
// SIGNALBUS_FUZZ_CASES scales the number of pairs (`npm run fuzz`).

const PAIRS = Math.max(300, Math.floor(Number(process.env.SIGNALBUS_FUZZ_CASES ?? 0) / 4));
// Under CI=true one fixed seed (test/helpers/property-seed.ts): a red CI run is a regression.
const SEED = Number(process.env.SIGNALBUS_FUZZ_SEED ?? (process.env.CI === 'true' && process.env.SIGNALBUS_FUZZ_CASES === undefined ? CI_PROPERTY_SEED : Date.now() % 2 ** 31));
const json = (schema: JsonSchema): SchemaDocument => ({ format: 'json-schema', schema });

const ajv = createAjv();
function compiles(s: JsonSchema): boolean {
  try { ajv.compile(s as object | boolean); return true; } catch { return false; } finally { if (typeof s === 'object') ajv.removeSchema(s); }
}

/**
 * ajv 8.20 checks `uniqueItems` with a fast scalar comparison when `items` has a scalar type, even
 * where `prefixItems` puts arrays or objects first (`[[], [], 3]` passes). Such schemas are left
 * out: ajv, the oracle, would be wrong about them.
 */
function ajvMisjudgesUniqueItems(s: unknown): boolean {
  if (s === null || typeof s !== 'object') return false;
  const o = s as Record<string, unknown>;
  if (o.uniqueItems === true && Array.isArray(o.prefixItems) && o.prefixItems.length > 0) return true;
  return Object.values(o).some(ajvMisjudgesUniqueItems);
}

describe('contracts compatibility - JSON Schema semantic oracle', function () {
  this.timeout(10 * 60_000);

  it(`contracts compatibility - no compatible verdict has a counterexample (${PAIRS} generated evolutions, seed ${SEED})`, () => {
    const tally = { compatible: 0, breakingWithExample: 0, breakingOnRuleOnly: 0 };
    const ruleOnly = new Map<string, number>();
    fc.assert(fc.property(evolutionArb, fc.nat(), ({ before, after }, seed) => {
      fc.pre(compiles(before) && compiles(after) && !ajvMisjudgesUniqueItems(before) && !ajvMisjudgesUniqueItems(after));
      for (const [mode, writer, reader] of [['BACKWARD', before, after], ['FORWARD', after, before]] as const) {
        const verdict = checkCompatibility(json(before), json(after), mode);
        const example = findCounterexample(writer, reader, { tries: 300, seed });
        if (verdict.compatible) {
          tally.compatible++;
          expect(example, `${mode} compatible, yet ${JSON.stringify(example?.instance)} is valid under the writer and not the reader (${example?.reason})\nold: ${JSON.stringify(before)}\nnew: ${JSON.stringify(after)}`).to.equal(undefined);
        } else if (example) tally.breakingWithExample++;
        else {
          tally.breakingOnRuleOnly++;
          for (const c of verdict.changes) ruleOnly.set(c.rule, (ruleOnly.get(c.rule) ?? 0) + 1);
        }
      }
    }), { numRuns: PAIRS, seed: SEED });
    // The generator must produce both verdicts in earnest.
    expect(tally.compatible).to.be.greaterThan(PAIRS / 5);
    expect(tally.breakingWithExample).to.be.greaterThan(PAIRS / 5);
    if (process.env.SIGNALBUS_FUZZ_CASES) console.log('      oracle tally', tally, 'rules behind breaking verdicts without an example:', Object.fromEntries([...ruleOnly].sort((a, b) => b[1] - a[1])));
  });
});
