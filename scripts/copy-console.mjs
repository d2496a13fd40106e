// tsc compiles gateway/console.ts but copies no other file: the web console's static files
// (gateway/console/*.html|js|css) go next to it in dist/ by hand, where the module reads them.
import { cpSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const from = join(root, 'gateway', 'console');
if (existsSync(join(root, 'dist', 'gateway'))) cpSync(from, join(root, 'dist', 'gateway', 'console'), { recursive: true });
