/**
 * `signalbus contracts diff|check` and `signalbus asyncapi`. Exit codes: 0 compatible / written,
 * 1 breaking changes (one per line on stdout) or an output file not written, 2 unusable input
 * (one line on stderr).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { SignalbusError } from '../core/errors.js';
import { OutputWriteError, UsageError } from '../cli/errors.js';
import { toAsyncApi, type AsyncApiOptions, type AsyncApiService } from './asyncapi.js';
import { checkCompatibility, checkHistory, isTransitive, parseMode } from './compat/check.js';
import { explainJsonBreak } from './compat/witness.js';
import { documentsOf, loadSchemaFile } from './compat/schema-source.js';
import { formatChange, type BreakingChange, type CompatibilityMode, type JsonSchema } from './compat/types.js';
import type { ContractVersion } from './contract.js';
import { ContractRegistry, standardSchemasDir } from './registry.js';
import { compareVersions } from './semver.js';

/** Where the command writes; tests pass their own. */
export interface CommandIo {
  out(line: string): void;
  err(line: string): void;
  /** Reports why the command could not run, on one line. Default: `err('<code>: <message>')`. */
  fail?(err: unknown): void;
}

/** The process' streams, an error as the `signalbus` command prints every one: `signalbus: <message> [<code>]`. */
const defaultIo: CommandIo = {
  out: (l) => process.stdout.write(`${l}\n`),
  err: (l) => process.stderr.write(`${l}\n`),
  fail: (err) => {
    const code = err instanceof SignalbusError ? ` [${err.code}]` : '';
    process.stderr.write(`signalbus: ${oneLine(err instanceof Error ? err.message : String(err))}${code}\n`);
  },
};

const CONTRACTS_USAGE = `usage:
  signalbus contracts diff <old-schema-file> <new-schema-file> [--mode backward]
  signalbus contracts check [--dir contracts/schemas]... [--against <dir or git ref>] [--mode <mode>]
diff exits 0 when compatible, 1 when breaking (one change per line), 2 on unusable input
modes: backward, backward_transitive, forward, forward_transitive, full, full_transitive, none
schema files: contract files (*.json with name, version, schema | proto), bare JSON Schemas, or file.proto[#pkg.Message]`;

/**
 * Runs `signalbus contracts …` and resolves with the exit code; rejects only with parseArgs'
 * error for an unknown or value-less option (the `signalbus` command turns it into its usage line).
 * @example process.exitCode = await runContractsCommand(['diff', 'old.json', 'new.json', '--mode', 'full']);
 */
export async function runContractsCommand(argv: string[], io: CommandIo = defaultIo): Promise<number> {
  const [sub, ...rest] = argv;
  try {
    if (sub === 'diff') return diff(rest, io);
    if (sub === 'check') return check(rest, io);
    if (sub === undefined || sub === '--help' || sub === 'help') { io.err(CONTRACTS_USAGE); return 2; }
    throw new UsageError(`unknown subcommand "${sub}" for signalbus contracts (diff or check); see signalbus contracts --help`);
  } catch (err) {
    if (isArgumentError(err)) throw err;
    report(io, err);
    return 2;
  }
}

/** node:util parseArgs' own errors (an unknown option): the `signalbus` command words them, like every usage error. */
function isArgumentError(err: unknown): boolean {
  return typeof (err as { code?: unknown })?.code === 'string' && (err as { code: string }).code.startsWith('ERR_PARSE_ARGS');
}

function describeError(err: unknown): string {
  const message = oneLine(err instanceof Error ? err.message : String(err));
  return err instanceof SignalbusError ? `${err.code}: ${message}` : message;
}

/** A message on one line: Node's messages may quote input that holds line breaks. */
function oneLine(message: string): string {
  return message.replace(/\s*\n\s*/g, ' ');
}

function report(io: CommandIo, err: unknown): void {
  if (io.fail) io.fail(err);
  else io.err(describeError(err));
}

function diff(args: string[], io: CommandIo): number {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { mode: { type: 'string', default: 'BACKWARD' } } });
  if (positionals.length !== 2) throw new UsageError('contracts diff needs exactly two schema files; see signalbus contracts --help');
  const mode = parseMode(values.mode!);
  const [previous, next] = [loadSchemaFile(positionals[0]!), loadSchemaFile(positionals[1]!)];
  const result = checkCompatibility(previous, next, mode);
  for (const c of result.changes) io.out(formatChange(c));
  if (previous.format === 'json-schema' && next.format === 'json-schema') explainJson(previous.schema, next.schema, mode, io);
  if (result.compatible) io.err(`compatible (${mode})`);
  else io.err(`${result.changes.length} breaking change(s) under ${mode}`);
  return result.compatible ? 0 : 1;
}

/** Why a JSON Schema change breaks, on stderr (see `explainJsonBreak`). */
function explainJson(previous: JsonSchema, next: JsonSchema, mode: CompatibilityMode, io: CommandIo): void {
  for (const line of explainJsonBreak(previous, next, mode)) io.err(line);
}

interface Finding { contract: string; from: string; to: string; format: string; change: BreakingChange }

function check(args: string[], io: CommandIo): number {
  const { values } = parseArgs({ args, options: { dir: { type: 'string', multiple: true }, against: { type: 'string' }, mode: { type: 'string' } } });
  const dirs = values.dir?.length ? values.dir : [defaultDir()];
  const forced = values.mode !== undefined ? parseMode(values.mode) : undefined;
  const registry = loadRegistry(dirs);
  const findings: Finding[] = [];
  for (const name of registry.names()) findings.push(...checkContract(registry, name, forced));
  if (values.against !== undefined) findings.push(...checkAgainst(registry, values.against, dirs, forced));
  for (const f of findings) io.out(`${f.contract} ${f.from} -> ${f.to} [${f.format}] ${formatChange(f.change)}`);
  const versions = registry.all().length;
  if (findings.length === 0) io.err(`${registry.names().length} contracts, ${versions} versions: compatible`);
  else io.err(`${findings.length} breaking change(s) in ${registry.names().length} contracts, ${versions} versions`);
  return findings.length === 0 ? 0 : 1;
}

function defaultDir(): string {
  const local = resolve('contracts/schemas');
  return existsSync(local) ? local : standardSchemasDir();
}

function loadRegistry(dirs: string[]): ContractRegistry {
  const registry = new ContractRegistry({ standard: false });
  for (const d of dirs) registry.loadDirectory(d);
  return registry;
}

function modeOf(cv: ContractVersion, forced: CompatibilityMode | undefined): CompatibilityMode {
  return forced ?? cv.definition.compatibility ?? 'BACKWARD';
}

/** Every version chain of one contract: within a major under its mode; across majors, through upcasters. */
function checkContract(registry: ContractRegistry, name: string, forced: CompatibilityMode | undefined): Finding[] {
  const versions = registry.versions(name).map((v) => registry.get(name, v));
  const findings: Finding[] = [];
  const majors = new Map<number, ContractVersion[]>();
  for (const cv of versions) majors.set(cv.semver.major, [...(majors.get(cv.semver.major) ?? []), cv]);
  for (const chain of majors.values()) {
    for (const format of ['json-schema', 'protobuf'] as const) {
      // Each version is checked under the mode it declares (or the forced one).
      const docs = chain.flatMap((cv) => documentsOf(cv).filter((d) => d.format === format).map((doc) => ({ label: cv.version, doc, mode: modeOf(cv, forced) })));
      for (const f of checkHistory(docs, 'BACKWARD')) for (const change of f.changes) findings.push({ contract: name, from: f.previous, to: f.next, format, change });
    }
  }
  // A new major is a deliberate break: it must be reachable by upcasting, checked on examples.
  const ordered = [...majors.values()];
  for (let i = 1; i < ordered.length; i++) {
    const target = ordered[i]![0]!;
    const sources = [ordered[i - 1]![ordered[i - 1]!.length - 1]!, ...versions.filter((v) => target.definition.upcastFrom?.includes(v.version))];
    for (const source of new Set(sources)) {
      const base = { contract: name, from: source.version, to: target.version, format: 'upcast' };
      if (!registry.canUpcast(name, source.version, target.version)) {
        findings.push({ ...base, change: { rule: 'upcaster-missing', path: '', message: `no upcaster leads from ${source.version} to ${target.version} (contracts/upcasters.ts)`, category: 'evolution' } });
        continue;
      }
      (source.definition.examples ?? []).forEach((example, n) => {
        try {
          registry.upcast(name, source.version, target.version, example);
        } catch (err) {
          findings.push({ ...base, change: { rule: 'upcast-invalid', path: `/examples/${n}`, message: (err as Error).message, category: 'evolution' } });
        }
      });
    }
  }
  return findings;
}

/** Published versions must not change or vanish; new versions must be compatible with the baseline's newest of their major. */
function checkAgainst(current: ContractRegistry, against: string, dirs: string[], forced: CompatibilityMode | undefined): Finding[] {
  const { registry: baseline, cleanup } = loadBaseline(against, dirs);
  try {
    const findings: Finding[] = [];
    for (const old of baseline.all()) {
      const now = current.find(old.name, old.version);
      const base = { contract: old.name, from: `${old.version}@baseline`, to: old.version };
      if (!now) {
        findings.push({ ...base, format: 'registry', change: { rule: 'version-removed', path: '', message: `${old.name}@${old.version} is in the baseline but no longer here`, category: 'evolution' } });
        continue;
      }
      if (fingerprint(old) !== fingerprint(now)) {
        findings.push({ ...base, format: 'registry', change: { rule: 'version-modified', path: '', message: `published version ${old.version} changed; publish a new version instead`, category: 'evolution' } });
      }
    }
    for (const name of current.names()) {
      for (const cv of current.versions(name).map((v) => current.get(name, v))) {
        if (baseline.find(name, cv.version)) continue;
        const published = baseline.versions(name).map((v) => baseline.get(name, v)).filter((b) => b.semver.major === cv.semver.major && compareVersions(b.semver, cv.semver) < 0);
        if (published.length === 0) continue;
        const mode = modeOf(cv, forced);
        // A transitive mode holds the new version to every published one of its major, a plain mode to the newest.
        for (const previous of isTransitive(mode) ? published : published.slice(-1)) {
          for (const next of documentsOf(cv)) {
            const prev = documentsOf(previous).find((d) => d.format === next.format);
            if (!prev) continue;
            for (const change of checkCompatibility(prev, next, mode).changes) {
              findings.push({ contract: name, from: `${previous.version}@baseline`, to: cv.version, format: next.format, change });
            }
          }
        }
      }
    }
    return findings;
  } finally {
    cleanup();
  }
}

function fingerprint(cv: ContractVersion): string {
  return JSON.stringify([cv.definition.schema ?? null, cv.protoType ? cv.protoType.toJSON() : null]);
}

/** A baseline registry from a directory, or from the same directories at a git ref. */
function loadBaseline(against: string, dirs: string[]): { registry: ContractRegistry; cleanup: () => void } {
  if (existsSync(against) && statSync(against).isDirectory()) return { registry: loadRegistry([against]), cleanup: () => {} };
  const git = (args: string[], cwd: string) => execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const firstDir = resolve(dirs[0]!);
  let top: string;
  try {
    top = git(['rev-parse', '--show-toplevel'], firstDir).trim();
    git(['rev-parse', '--verify', `${against}^{commit}`], top);
  } catch (cause) {
    // git's own "Command failed: git rev-parse …" says nothing the sentence does not.
    throw new UsageError(`--against ${against} is neither a directory nor a git ref of the repository holding ${firstDir}`, { cause });
  }
  const tmp = mkdtempSync(join(tmpdir(), 'signalbus-baseline-'));
  const cleanup = () => rmSync(tmp, { recursive: true, force: true });
  try {
    const baseDirs: string[] = [];
    for (const d of dirs) {
      const rel = relative(top, resolve(d));
      const files = git(['ls-tree', '-r', '--name-only', against, '--', rel], top).split('\n').filter(Boolean);
      for (const f of files) {
        const target = join(tmp, f);
        mkdirSync(dirname(target), { recursive: true });
        writeFileSync(target, execFileSync('git', ['show', `${against}:${f}`], { cwd: top, maxBuffer: 64 * 1024 * 1024 }));
      }
      const baseDir = join(tmp, rel);
      mkdirSync(baseDir, { recursive: true });
      baseDirs.push(baseDir);
    }
    return { registry: loadRegistry(baseDirs), cleanup };
  } catch (err) {
    cleanup();
    throw err;
  }
}

const ASYNCAPI_USAGE = `usage: signalbus asyncapi [--pipeline pipeline.json] [--out file] [--dir contracts-dir]... [--services services.json] [--server name=url]... [--title t] [--version v]
--pipeline: the pipeline's services as send/receive operations (input, output, dlq.<input>, signalbus.metrics.<service>),
            its transports as servers (routes decide each channel's), the contracts flowing between services as messages
services.json: [{ "name": "filter", "version": "1.0.0", "subscriptions": [{ "pattern": "sensor.reading.>", "type": "sensor.reading", "accept": "^2" }],
                  "publishes": [{ "subject": "sensor.filtered.berlin", "type": "sensor.reading" }] }]`;

/**
 * Reads a pipeline file into the export's input (cli/pipeline/asyncapi.ts provides it: contracts/
 * does not depend on the CLI). `contractDirs` are loaded into the registry before `options` runs.
 */
export type PipelineReader = (file: string) => { contractDirs: string[]; options: (registry: ContractRegistry) => Omit<AsyncApiOptions, 'registry'> };

/**
 * Runs `signalbus asyncapi …`: writes an AsyncAPI 3.0 document (JSON) to `--out` or stdout.
 * `--pipeline` needs `readPipeline` (the CLI passes it). Rejects only with parseArgs' error for an
 * unknown or value-less option, as `runContractsCommand`.
 * @example await runAsyncapiCommand(['--out', 'asyncapi.json', '--server', 'nats=nats://localhost:4222']);
 */
export async function runAsyncapiCommand(argv: string[], io: CommandIo = defaultIo, readPipeline?: PipelineReader): Promise<number> {
  try {
    const { values } = parseArgs({
      args: argv,
      options: {
        out: { type: 'string' }, dir: { type: 'string', multiple: true }, services: { type: 'string' }, pipeline: { type: 'string' },
        server: { type: 'string', multiple: true }, title: { type: 'string' }, version: { type: 'string' }, help: { type: 'boolean' },
      },
    });
    if (values.help) { io.err(ASYNCAPI_USAGE); return 0; }
    if (values.pipeline !== undefined && readPipeline === undefined) throw new Error('--pipeline is read by the signalbus CLI (cli/main.ts); call runAsyncapiCommand with a PipelineReader');
    const pipeline = values.pipeline !== undefined ? readPipeline!(values.pipeline) : undefined;
    const registry = new ContractRegistry({ directories: [...(values.dir ?? []), ...(pipeline?.contractDirs ?? [])] });
    const services = values.services ? (JSON.parse(readFileSync(values.services, 'utf8')) as AsyncApiService[]) : [];
    if (!Array.isArray(services)) throw new Error(`${values.services} must hold an array of services`);
    const servers: Record<string, string> = {};
    for (const s of values.server ?? []) {
      const eq = s.indexOf('=');
      if (eq <= 0) throw new UsageError(`--server ${s}: use name=url`);
      servers[s.slice(0, eq)] = s.slice(eq + 1);
    }
    const fromPipeline = pipeline?.options(registry);
    const doc = toAsyncApi({
      ...fromPipeline,
      registry,
      services: [...(fromPipeline?.services ?? []), ...services],
      servers: { ...fromPipeline?.servers, ...servers },
      title: values.title ?? fromPipeline?.title,
      version: values.version ?? fromPipeline?.version,
    });
    const text = `${JSON.stringify(doc, null, 2)}\n`;
    if (values.out) {
      try {
        writeFileSync(values.out, text);
      } catch (cause) {
        throw new OutputWriteError(`--out ${values.out}: cannot write: ${(cause as Error).message}`, { cause });
      }
      io.err(`wrote ${values.out}`);
    } else io.out(text.trimEnd());
    return 0;
  } catch (err) {
    if (isArgumentError(err)) throw err;
    report(io, err);
    return err instanceof OutputWriteError ? 1 : 2;
  }
}
