import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import type { ContractHooks } from '../core/contract-hooks.js';
import { ContractInvalidError, ContractLoadError, ContractUnknownError, ContractVersionError } from '../core/errors.js';
import {
  COMPATIBILITY_MODES, CONTRACT_NAME, contractUrn, formatIssues,
  type ContractDefinition, type ContractVersion, type ValidationIssue,
} from './contract.js';
import { invalid } from './contract-errors.js';
import { RegistryHooks } from './hooks.js';
import { ajvIssues, createAjv, type ValidateFunction } from './json-schema-validator.js';
import { readContractFiles, versionFromFileName } from './loader.js';
import { ProtobufMessage } from './protobuf-schema.js';
import { compareVersions, maxSatisfying, parseRange, parseVersion, satisfies, type SemVer } from './semver.js';
import { standardUpcasters, type Upcaster } from './upcasters.js';

export interface ContractRegistryOptions {
  /** Load the standard contracts (`contracts/schemas/`). Default true. */
  standard?: boolean;
  /** More directories of contract files to load, after the standard ones. */
  directories?: string[];
  /** Upcasters between versions. Default: the standard ones (contracts/upcasters.ts). */
  upcasters?: readonly Upcaster[];
}

/** A contract version with its validator and proto codec compiled. */
class CompiledVersion implements ContractVersion {
  readonly urn: string;
  /** Upcast routes from this version, per accepted range text: computed once, then looked up. */
  readonly routes = new Map<string, Route>();

  constructor(
    readonly name: string,
    readonly version: string,
    readonly semver: SemVer,
    readonly definition: ContractDefinition,
    readonly file: string | undefined,
    readonly validateJson: ValidateFunction | undefined,
    readonly protobuf: ProtobufMessage | undefined,
    readonly protoFile: string | undefined,
  ) {
    this.urn = contractUrn(name, version);
  }

  get protoType(): protobuf.Type | undefined { return this.protobuf?.type; }

  check(data: unknown): ValidationIssue[] | undefined {
    if (this.validateJson) return this.validateJson(data) ? undefined : ajvIssues(this.validateJson.errors);
    return this.protobuf?.verify(data);
  }
}

/**
 * Where a message of one version goes for a consumer's range: a target and the upcasters on the
 * way, or why there is none. One object shape for both, so the hot path reads `target` without a check.
 */
interface Route { target?: CompiledVersion; steps: Upcaster[]; error?: ContractVersionError }

/** `contracts/schemas/` of this package, from source (tsx) or from `dist/`. */
export function standardSchemasDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [resolve(here, 'schemas'), resolve(here, '../../contracts/schemas')];
  return candidates.find((c) => existsSync(c)) ?? candidates[0]!;
}

/**
 * Contracts by name and version, compiled once at registration: JSON Schema validators (ajv) and
 * protobuf message types. Plugs into the Bus through `hooks()`.
 *
 * @example
 * const registry = new ContractRegistry({ directories: ['./my-contracts'] });
 * const bus = new Bus({ service: 'ingest', transport, contracts: registry.hooks() });
 */
export class ContractRegistry {
  private readonly ajv = createAjv();
  private readonly byName = new Map<string, CompiledVersion[]>();
  private readonly byUrn = new Map<string, CompiledVersion>();
  private readonly upcasters = new Map<string, Upcaster[]>();
  private readonly rangeCache = new Map<string, ReturnType<typeof parseRange>>();

  constructor(options: ContractRegistryOptions = {}) {
    for (const u of options.upcasters ?? standardUpcasters) this.addUpcaster(u);
    if (options.standard !== false) this.loadDirectory(standardSchemasDir());
    for (const dir of options.directories ?? []) this.loadDirectory(dir);
  }

  /** Loads every contract file under `dir`. Throws ContractLoadError naming the file on the first bad one. */
  loadDirectory(dir: string): ContractVersion[] {
    return readContractFiles(dir).map((d) => this.register(d.definition, d.file));
  }

  /**
   * Compiles and adds one contract version. Throws ContractLoadError (details: file, contract,
   * path) for a malformed definition, a schema ajv rejects, a missing proto type, an example that
   * does not validate, or a duplicate name and version.
   */
  register(definition: ContractDefinition, file?: string): ContractVersion {
    const where = file ?? '(inline definition)';
    const fail = (path: string, why: string, cause?: unknown): never => {
      throw new ContractLoadError(`${where}: ${label(definition)} ${path || '/'}: ${why}`,
        { cause, details: { file: where, contract: typeof definition?.name === 'string' ? definition.name : undefined, version: definition?.version, path } });
    };
    if (definition === null || typeof definition !== 'object') fail('', 'a contract must be an object');
    if (typeof definition.name !== 'string' || !CONTRACT_NAME.test(definition.name)) fail('/name', 'name must be lowercase dot-separated tokens such as "sensor.reading"');
    const semver = typeof definition.version === 'string' ? parseVersion(definition.version) : undefined;
    if (!semver) return fail('/version', 'version must be a semantic version MAJOR.MINOR.PATCH');
    const fromName = file ? versionFromFileName(file) : undefined;
    if (fromName !== undefined && fromName !== definition.version) fail('/version', `version ${definition.version} differs from the file name's ${fromName}`);
    if (definition.schema === undefined && definition.proto === undefined) fail('', 'a contract needs a JSON "schema", a "proto", or both');
    if (definition.examples !== undefined && !Array.isArray(definition.examples)) fail('/examples', 'examples must be an array');
    if (definition.upcastFrom !== undefined && !(Array.isArray(definition.upcastFrom) && definition.upcastFrom.every((v) => typeof v === 'string' && parseVersion(v)))) {
      fail('/upcastFrom', 'upcastFrom must be an array of semantic versions');
    }
    if (definition.compatibility !== undefined && !COMPATIBILITY_MODES.includes(definition.compatibility)) {
      fail('/compatibility', `compatibility must be one of ${COMPATIBILITY_MODES.join(', ')}`);
    }
    const { name, version } = definition;
    if (this.find(name, version)) fail('/version', `${name}@${version} is registered twice (also in ${this.find(name, version)!.file ?? 'an inline definition'})`);

    let validateJson: ValidateFunction | undefined;
    if (definition.schema !== undefined) {
      const s = definition.schema;
      if (typeof s !== 'boolean' && (s === null || typeof s !== 'object' || Array.isArray(s))) fail('/schema', 'schema must be a JSON Schema object or boolean');
      try {
        // Each version gets its URN as $id, so versions of one contract never clash inside ajv.
        validateJson = this.ajv.compile(typeof s === 'boolean' ? s : { ...s, $id: contractUrn(name, version) });
      } catch (cause) {
        fail('/schema', `schema does not compile: ${(cause as Error).message}`, cause);
      }
    }
    let pb: ProtobufMessage | undefined;
    let protoFile: string | undefined;
    if (definition.proto !== undefined) {
      const p = definition.proto;
      if (!p || typeof p.file !== 'string' || typeof p.message !== 'string') fail('/proto', 'proto must be { "file": "<path>.proto", "message": "<package.Message>" }');
      protoFile = resolve(file ? dirname(file) : process.cwd(), p.file);
      try {
        const root = new protobuf.Root().loadSync(protoFile, { keepCase: false });
        pb = new ProtobufMessage(root.lookupType(p.message));
      } catch (cause) {
        fail('/proto', `cannot load message ${p.message} from ${protoFile}: ${(cause as Error).message}`, cause);
      }
    }
    const compiled = new CompiledVersion(name, version, semver, definition, file, validateJson, pb, protoFile);
    (definition.examples ?? []).forEach((example, i) => {
      const issues = compiled.check(example);
      if (issues) fail(`/examples/${i}${issues[0]!.path}`, `example does not validate: ${formatIssues(issues)}`);
      if (pb) {
        const verifyIssues = pb.verify(example);
        if (verifyIssues) fail(`/examples/${i}${verifyIssues[0]!.path}`, `example does not fit the proto: ${formatIssues(verifyIssues)}`);
        const back = compiled.check(pb.decode(pb.encode(example)));
        if (back) fail(`/examples/${i}${back[0]!.path}`, `example is no longer valid after a protobuf round trip (schema and proto disagree): ${formatIssues(back)}`);
      }
    });
    const list = this.byName.get(name) ?? [];
    list.push(compiled);
    list.sort((a, b) => compareVersions(a.semver, b.semver));
    this.byName.set(name, list);
    this.byUrn.set(compiled.urn, compiled);
    this.clearRoutes(name);
    return compiled;
  }

  /** Adds an upcaster (replacing one for the same contract and versions). */
  addUpcaster(upcaster: Upcaster): this {
    if (!parseVersion(upcaster.from) || !parseVersion(upcaster.to) || compareVersions(upcaster.from, upcaster.to) >= 0) {
      throw new ContractLoadError(`upcaster for ${upcaster.contract} must go from a lower to a higher version, got ${upcaster.from} → ${upcaster.to}`,
        { details: { contract: upcaster.contract, path: `${upcaster.from}->${upcaster.to}` } });
    }
    const list = (this.upcasters.get(upcaster.contract) ?? []).filter((u) => !(u.from === upcaster.from && u.to === upcaster.to));
    list.push(upcaster);
    this.upcasters.set(upcaster.contract, list);
    this.clearRoutes(upcaster.contract);
    return this;
  }

  /** Contract names, sorted. */
  names(): string[] { return [...this.byName.keys()].sort(); }

  has(name: string): boolean { return this.byName.has(name); }

  /** Versions of a contract, oldest first (empty when unknown). */
  versions(name: string): string[] { return (this.byName.get(name) ?? []).map((c) => c.version); }

  /** Every registered version of every contract. */
  all(): ContractVersion[] { return this.names().flatMap((n) => this.byName.get(n)!); }

  /** A version (the newest when `version` is omitted), or undefined. */
  find(name: string, version?: string): ContractVersion | undefined {
    const list = this.byName.get(name);
    if (!list) return undefined;
    return version === undefined ? list[list.length - 1] : versionIn(list, version);
  }

  /** A version (the newest when omitted); ContractUnknownError / ContractVersionError naming what is missing. */
  get(name: string, version?: string): ContractVersion {
    return this.compiled(name, version);
  }

  /** The version a `dataschema` URN names, if registered. */
  byDataschema(urn: string): ContractVersion | undefined { return this.byUrn.get(urn); }

  /** Upcasters registered for a contract. */
  upcastersOf(name: string): readonly Upcaster[] { return this.upcasters.get(name) ?? []; }

  /**
   * Throws ContractInvalidError (details: contract, version, issues, paths) unless `data` is valid.
   * @example registry.validate('sensor.reading', '2.0.0', data)
   */
  validate(name: string, version: string | undefined, data: unknown): void {
    const cv = this.compiled(name, version);
    const issues = cv.check(data);
    if (issues) throw invalid(cv, issues);
  }

  /**
   * Brings data from version `from` to version `to` through upcasters (identity within a major),
   * validating before and after. @example registry.upcast('sensor.reading', '1.0.0', '2.0.0', v1)
   */
  upcast(name: string, from: string, to: string, data: unknown): unknown {
    const source = this.compiled(name, from);
    const issues = source.check(data);
    if (issues) throw invalid(source, issues);
    const route = this.route(source, `=${to}`);
    return this.applyRoute(source, route, data);
  }

  /** True when data of version `from` can be brought to version `to` (upcasters, or identity within a major). */
  canUpcast(name: string, from: string, to: string): boolean {
    return this.route(this.compiled(name, from), `=${to}`).target !== undefined;
  }

  /** The Bus integration: stamps and checks outbound data, validates and upcasts inbound data. */
  hooks(): ContractHooks {
    return new RegistryHooks(this);
  }

  // ------------------------------------------------------------ internals shared with the hooks

  /** @internal */
  compiled(name: string, version?: string): CompiledVersion {
    const list = this.byName.get(name);
    if (!list) throw new ContractUnknownError(`no contract named ${name}`, { details: { contract: name } });
    if (version === undefined) return list[list.length - 1]!;
    const cv = versionIn(list, version);
    if (!cv) {
      const known = list.map((c) => c.version);
      const major = parseVersion(version)?.major;
      const why = major !== undefined && !list.some((c) => c.semver.major === major) ? `major ${major} is unknown` : 'that version is unknown';
      throw new ContractVersionError(`contract ${name} has no version ${version}: ${why} (known: ${known.join(', ')})`, { details: { contract: name, version, known } });
    }
    return cv;
  }

  /** @internal versions of a contract, oldest first, or undefined (one lookup for the hot path). */
  compiledVersions(name: string): readonly CompiledVersion[] | undefined {
    return this.byName.get(name);
  }

  /** @internal the newest version of `name` in `accept` (the newest of all without a range). */
  defaultVersion(name: string, accept: string | undefined): CompiledVersion {
    const list = this.byName.get(name)!;
    if (accept === undefined) return list[list.length - 1]!;
    const range = this.range(accept);
    for (let i = list.length - 1; i >= 0; i--) if (satisfies(list[i]!.semver, range)) return list[i]!;
    throw new ContractVersionError(`contract ${name} has no version in the accepted range ${accept} (known: ${this.versions(name).join(', ')})`,
      { details: { contract: name, accept, known: this.versions(name) } });
  }

  /** @internal where a message of `from` goes for a consumer accepting `accept` (cached per pair). */
  route(from: CompiledVersion, accept: string): Route {
    let r = from.routes.get(accept);
    if (!r) {
      r = this.computeRoute(from, accept);
      from.routes.set(accept, r);
    }
    return r;
  }

  /** @internal */
  applyRoute(from: CompiledVersion, route: Route, data: unknown): unknown {
    if (route.target === undefined) throw new ContractVersionError(route.error!.message, { details: route.error!.details });
    if (route.target === from) return data;
    let out = data;
    for (const step of route.steps) out = step.upcast(out);
    const issues = route.target.check(out);
    if (issues) {
      throw new ContractInvalidError(`${from.name}@${from.version} upcast to ${route.target.version} is invalid: ${formatIssues(issues)}`,
        { details: { contract: from.name, version: route.target.version, from: from.version, issues, paths: issues.map((i) => i.path) } });
    }
    return out;
  }

  private range(text: string): ReturnType<typeof parseRange> {
    let r = this.rangeCache.get(text);
    if (!r) { r = parseRange(text); this.rangeCache.set(text, r); }
    return r;
  }

  private computeRoute(from: CompiledVersion, accept: string): Route {
    const list = this.byName.get(from.name)!;
    const range = this.range(accept);
    const candidates = list.filter((c) => satisfies(c.semver, range) && compareVersions(c.semver, from.semver) >= 0).reverse();
    for (const target of candidates) {
      const steps = this.path(from, target);
      if (steps) return { target, steps, error: undefined };
    }
    const details = { contract: from.name, version: from.version, accept, known: this.versions(from.name) };
    const newest = maxSatisfying(this.versions(from.name), range);
    const why = newest === undefined ? `no known version is in ${accept}`
      : compareVersions(from.semver, newest) > 0 ? `it is newer than ${accept} allows and cannot be downcast`
      : `no upcaster leads from ${from.version} into ${accept}`;
    return { target: undefined, steps: [], error: new ContractVersionError(`${from.name}@${from.version} is outside the accepted range ${accept}: ${why}`, { details }) };
  }

  /** Shortest chain of upcasters (identity within a major) from one version to another, or undefined. */
  private path(from: CompiledVersion, to: CompiledVersion): Upcaster[] | undefined {
    if (from === to) return [];
    const list = this.byName.get(from.name)!;
    const edges = this.upcasters.get(from.name) ?? [];
    const previous = new Map<CompiledVersion, { prev: CompiledVersion; step?: Upcaster }>();
    const queue = [from];
    while (queue.length > 0) {
      const at = queue.shift()!;
      if (at === to) break;
      const next: Array<{ v: CompiledVersion; step?: Upcaster }> = [];
      for (const u of edges) {
        if (u.from !== at.version) continue;
        const v = versionIn(list, u.to);
        if (v) next.push({ v, step: u });
      }
      // Within a major, newer minors read older data as it is (the check command holds them to that).
      for (const v of list) if (v.semver.major === at.semver.major && compareVersions(v.semver, at.semver) > 0) next.push({ v });
      for (const n of next) {
        if (n.v === from || previous.has(n.v)) continue;
        previous.set(n.v, { prev: at, step: n.step });
        queue.push(n.v);
      }
    }
    if (!previous.has(to)) return undefined;
    const steps: Upcaster[] = [];
    for (let at = to; at !== from;) {
      const p = previous.get(at)!;
      if (p.step) steps.unshift(p.step);
      at = p.prev;
    }
    return steps;
  }

  private clearRoutes(name: string): void {
    for (const c of this.byName.get(name) ?? []) c.routes.clear();
  }
}

/**
 * A version in a contract's list (oldest first), scanned from the newest, the likeliest asked for.
 * A contract has a handful of versions: scanning them beats building the URN to look it up.
 */
function versionIn(list: readonly CompiledVersion[], version: string): CompiledVersion | undefined {
  for (let i = list.length - 1; i >= 0; i--) if (list[i]!.version === version) return list[i];
  return undefined;
}

function label(d: ContractDefinition | undefined): string {
  return d && typeof d.name === 'string' ? `${d.name}@${String(d.version)}` : 'contract';
}


export type { CompiledVersion, Route };
