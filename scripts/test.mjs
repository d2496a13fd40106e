#!/usr/bin/env node
// The README's test command: type-check, make sure the brokers the integration suites need are
// up (starting installed ones that are not running), then run mocha over every suite.
// Extra arguments go to mocha (e.g. `npm test -- --grep nats`).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { ensureBrokers } from './brokers.mjs';

const run = (cmd, args, opts = {}) => spawnSync(cmd, args, { stdio: 'inherit', ...opts }).status ?? 1;

/**
 * The web console's browser tests drive Debian's Chromium (/usr/bin/chromium; nothing downloads a
 * browser). On a fresh Debian machine, as root, it is installed here; elsewhere those tests say
 * what is missing (and fail under CI=true).
 */
function ensureChromium() {
  if (existsSync('/usr/bin/chromium') || process.getuid?.() !== 0 || !existsSync('/usr/bin/apt-get')) return;
  console.log('installing Debian\'s chromium for the web console tests (apt-get)…');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (run('apt-get', ['update', '-qq'], { env }) !== 0 || run('apt-get', ['install', '-y', '-qq', 'chromium'], { env }) !== 0) {
    console.error('could not install chromium: the web console tests will say so');
  }
}

if (run('npx', ['tsc', '--noEmit', '-p', '.']) !== 0) {
  console.error('type check failed');
  process.exit(1);
}
await ensureBrokers();
ensureChromium();
const specs = process.argv.slice(2).some((a) => !a.startsWith('-'))
  ? []
  : ['test/unit/**/*.test.ts', 'test/contracts/**/*.test.ts', 'test/conformance/**/*.test.ts', 'test/integration/**/*.test.ts', 'test/reliability/**/*.test.ts', 'examples/**/*.test.ts', 'test/package/**/*.test.ts'];
process.exit(run('npx', ['mocha', ...specs, ...process.argv.slice(2)]));
