// npm links a package's `bin` for its dependents, never for the package itself, so inside this
// repository `npx signalbus` would look for it on the registry. After building, link our own bin
// into node_modules/.bin (skipped when installed as a dependency: there is no node_modules here then).
import { chmodSync, existsSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const target = join(root, 'dist', 'cli', 'main.js');
const binDir = join(root, 'node_modules', '.bin');
if (existsSync(target)) chmodSync(target, 0o755);
if (existsSync(join(root, 'node_modules')) && existsSync(target)) {
  mkdirSync(binDir, { recursive: true });
  const link = join(binDir, 'signalbus');
  rmSync(link, { force: true });
  symlinkSync(relative(binDir, target), link);
}
