#!/usr/bin/env node
// The README's test command: type-check, make sure the brokers the integration suites need are
// up (starting installed ones that are not running), then run mocha over every suite.
// Extra arguments go to mocha (e.g. `npm test -- --grep nats`).
import { spawnSync } from 'node:child_process';
import { ensureBrokers } from './brokers.mjs';

const run = (cmd, args, opts = {}) => spawnSync(cmd, args, { stdio: 'inherit', ...opts }).status ?? 1;

if (run('npx', ['tsc', '--noEmit', '-p', '.']) !== 0) {
  console.error('type check failed');
  process.exit(1);
}
await ensureBrokers();
const specs = process.argv.slice(2).some((a) => !a.startsWith('-'))
  ? []
  : ['test/unit/**/*.test.ts', 'test/contracts/**/*.test.ts', 'test/conformance/**/*.test.ts', 'test/integration/**/*.test.ts', 'test/reliability/**/*.test.ts', 'examples/**/*.test.ts', 'test/package/**/*.test.ts'];
process.exit(run('npx', ['mocha', ...specs, ...process.argv.slice(2)]));
