/**
 * Loaded by mocha before every suite (.mocharc.json `require`). Under CI=true every fast-check
 * property starts from one fixed seed, so a CI run is reproducible and a red run is a regression,
 * not a new random input; a run on a developer's machine explores new seeds, and `npm run fuzz`
 * explores thousands. SIGNALBUS_FUZZ_SEED replays any seed fast-check printed.
 */
import fc from 'fast-check';

export const CI_PROPERTY_SEED = 20261203;

const replay = process.env.SIGNALBUS_FUZZ_SEED;
if (replay !== undefined) fc.configureGlobal({ ...fc.readConfigureGlobal(), seed: Number(replay) });
else if (process.env.CI === 'true' && process.env.SIGNALBUS_FUZZ_CASES === undefined) fc.configureGlobal({ ...fc.readConfigureGlobal(), seed: CI_PROPERTY_SEED });
