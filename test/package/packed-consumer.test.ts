/**
 * signalbus as a new user gets it: `npm pack` (whose `prepare` builds dist/ with tsc), the
 * tarball installed into a brand-new project next to TypeScript 5 and 7 and mocha (not chai: the
 * conformance suite's chai arrives as a peer dependency), then the project in `consumer/`
 * type-checked strictly and run: ESM and CommonJS, a contract, standard and legacy decorators,
 * and `signalbus/conformance` against a custom transport the project writes itself.
 *
 * Needs the npm registry (or npm's cache: installs prefer it). Set SIGNALBUS_KEEP_PACKED=1 to
 * keep the temporary project for a look.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const consumerSource = fileURLToPath(new URL('./consumer', import.meta.url));
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { exports: Record<string, unknown>; devDependencies: Record<string, string> };

/** The TypeScript versions a consumer may have: installed side by side under aliases. */
const typescripts = [{ alias: 'ts5', spec: 'typescript@5.9' }, { alias: 'ts7', spec: 'typescript@7' }] as const;

// A child npm must not inherit the settings of an `npm test` around us (npm_config_*, npm_package_*).
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith('npm_')));

interface Run { status: number | null; stdout: string; output: string }

function run(cmd: string, args: string[], cwd: string, timeoutMs = 300_000): Run {
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
  return { status: r.status, stdout: r.stdout ?? '', output: `$ ${cmd} ${args.join(' ')}\n${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

function succeeds(r: Run): string {
  expect(r.status, r.output).to.equal(0);
  return r.output;
}

describe('package - the packed tarball in a new project', function () {
  this.timeout(600_000);
  let dir: string;
  let project: string;
  let packedFiles: string[];
  const tsc = (alias: string) => join(project, 'node_modules', alias, 'bin', 'tsc');

  before(function () {
    dir = mkdtempSync(join(tmpdir(), 'signalbus-packed-'));
    project = join(dir, 'project');
    const pack = run('npm', ['pack', '--json', '--pack-destination', dir], root);
    succeeds(pack);
    const report = JSON.parse(pack.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
    packedFiles = report[0]!.files.map((f) => f.path);
    const tarball = join(dir, report[0]!.filename);

    cpSync(consumerSource, project, { recursive: true });
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'signalbus-consumer', private: true, type: 'module' }, null, 2));
    const mocha = `mocha@${manifest.devDependencies.mocha}`;
    succeeds(run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball, mocha,
      ...typescripts.map((t) => `${t.alias}@npm:${t.spec}`)], project));
  });

  after(() => {
    if (process.env.SIGNALBUS_KEEP_PACKED) console.log(`packed consumer kept in ${dir}`);
    else if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('package - the tarball holds the license, every exported file, the web console\'s static files, and no source map without its source', () => {
    expect(packedFiles).to.include('LICENSE');
    for (const [entry, target] of Object.entries(manifest.exports)) {
      for (const file of Object.values(target as Record<string, string>)) {
        expect(packedFiles, `exports["${entry}"] → ${file}`).to.include(file.replace(/^\.\//, ''));
      }
    }
    for (const file of ['index.html', 'console.js', 'console.css']) {
      expect(packedFiles, 'the web console ships its static files').to.include(`dist/gateway/console/${file}`);
    }
    const maps = packedFiles.filter((f) => f.endsWith('.map'));
    for (const map of maps) {
      const sources = (JSON.parse(readFileSync(join(project, 'node_modules', 'signalbus', map), 'utf8')) as { sources: string[] }).sources;
      for (const source of sources) expect(packedFiles, `${map} needs ${source}`).to.include(join(map, '..', source));
    }
  });

  it('package - chai arrives for the conformance suite without being asked for', () => {
    // npm 7+ installs non-optional peer dependencies; the project asked only for signalbus and mocha.
    expect(readdirSync(join(project, 'node_modules'))).to.include('chai');
  });

  for (const { alias } of typescripts) {
    describe(`package - with ${alias === 'ts5' ? 'TypeScript 5' : 'TypeScript 7'}`, () => {
      const out = () => join(project, `out-${alias}`);
      const outLegacy = () => join(project, `out-legacy-${alias}`);

      // The first case compiles; the others run what it compiled.
      it(`package - ${alias} type-checks and compiles the consumer strictly (standard and legacy decorators)`, () => {
        succeeds(run('node', [tsc(alias), '-p', 'tsconfig.json', '--outDir', out()], project));
        succeeds(run('node', [tsc(alias), '-p', 'tsconfig.legacy.json', '--outDir', outLegacy()], project));
      });

      it(`package - ${alias} output runs as ESM: transports by URL, a contract`, () => {
        expect(succeeds(run('node', [join(out(), 'esm.js')], project))).to.contain('esm ok');
      });

      it(`package - ${alias} output runs as CommonJS (require of the ESM package)`, () => {
        expect(succeeds(run('node', [join(out(), 'cjs.cjs')], project))).to.contain('cjs ok');
      });

      it(`package - ${alias} output runs standard and legacy decorators`, () => {
        expect(succeeds(run('node', [join(out(), 'decorators.js')], project)), 'standard').to.contain('decorators ok');
        expect(succeeds(run('node', [join(outLegacy(), 'decorators.js')], project)), 'legacy').to.contain('decorators ok');
      });

      it(`package - ${alias} output passes signalbus/conformance with a custom transport under mocha`, () => {
        const mocha = join(project, 'node_modules', 'mocha', 'bin', 'mocha.js');
        expect(succeeds(run('node', [mocha, '--timeout', '60000', join(out(), 'conformance.spec.js')], project))).to.match(/\d+ passing/);
      });
    });
  }

  it('package - TypeScript 7 type-checks every exported entry point on its own', () => {
    // One program per entry: node types reach a program only through a declaration that asks for
    // them, so an entry point whose declarations need them and do not say so fails here.
    const failures: string[] = [];
    for (const entry of Object.keys(manifest.exports)) {
      const name = entry === '.' ? 'root' : entry.slice(2).replaceAll('/', '-');
      const at = join(project, 'entries', name);
      mkdirSync(at, { recursive: true });
      writeFileSync(join(at, 'index.ts'), `export * as entry from '${join('signalbus', entry)}';\n`);
      writeFileSync(join(at, 'tsconfig.json'), JSON.stringify({
        compilerOptions: { target: 'ES2022', module: 'nodenext', strict: true, skipLibCheck: false, noEmit: true }, files: ['index.ts'],
      }));
      const r = run('node', [tsc('ts7'), '-p', at], project);
      if (r.status !== 0) failures.push(`${entry}:\n${r.output}`);
    }
    expect(failures, failures.join('\n')).to.deep.equal([]);
  });
});
