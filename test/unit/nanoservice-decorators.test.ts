/**
 * The decorators in both TypeScript modes. This file itself is compiled with the repository's
 * `experimentalDecorators: true` (legacy mode); the standard (TC39) cases compile their classes
 * with TypeScript's own emit and `experimentalDecorators: false`, as a project on TypeScript 5+
 * defaults does, and import the result.
 */
import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';
import {
  Bus, definitionFromInstance, Nanoservice, Request, startNanoservice, Subscribe,
  type Envelope, type HandlerContext,
} from '../../core/index.js';
import { MemoryBroker, MemoryTransport } from '../../transports/memory/index.js';
import { silentLogger } from '../helpers/silent-logger.js';

const coreUrl = pathToFileURL(fileURLToPath(new URL('../../core/index.ts', import.meta.url))).href;

function memoryBus(): Bus {
  return new Bus({ service: 'deco@t', transport: new MemoryTransport({ broker: new MemoryBroker() }), metrics: false, logger: silentLogger });
}

/** Runs a service on a memory bus: one event in, one request answered. */
async function exercise(service: object, seen: unknown[]): Promise<unknown> {
  const bus = memoryBus();
  try {
    await startNanoservice(bus, service);
    await bus.publish('deco.in.a', 'x');
    const reply = await bus.request('deco.ask', 'q', { timeoutMs: 2000 });
    // The memory transport delivers in order: the event was handled before the request's reply.
    expect(seen).to.deep.equal(['label:x']);
    return reply.data;
  } finally {
    await bus.stop();
  }
}

function codeOf(fn: () => unknown): string | undefined {
  try { fn(); } catch (err) { return (err as { code?: string }).code; }
  return undefined;
}

describe('decorators - legacy mode (experimentalDecorators)', () => {
  it('decorators - a legacy-decorated class handles events and answers requests', async () => {
    const seen: unknown[] = [];
    @Nanoservice({ name: 'legacy', version: '1.0.0' })
    class Legacy {
      constructor(private readonly label: string) {}
      @Subscribe('deco.in.>', { group: 'g' })
      async onIn(m: Envelope, _ctx: HandlerContext): Promise<void> { seen.push(`${this.label}:${String(m.data)}`); }
      @Request('deco.ask')
      async answer(m: Envelope): Promise<string> { return `${this.label}:${String(m.data)}!`; }
    }
    const def = definitionFromInstance(new Legacy('label'));
    expect(def).to.include({ name: 'legacy', version: '1.0.0' });
    expect(def.subscriptions.map((s) => [s.pattern, s.kind, s.group])).to.deep.equal([['deco.in.>', 'event', 'g'], ['deco.ask', 'request', undefined]]);
    expect(await exercise(new Legacy('label'), seen)).to.equal('label:q!');
  });

  it('decorators - a @Nanoservice class without decorated methods fails with a definition error', () => {
    @Nanoservice({ name: 'empty' })
    class Empty { handle(): void {} }
    expect(codeOf(() => definitionFromInstance(new Empty()))).to.equal('SB_ERR_DEFINITION_INVALID');
  });

  it('decorators - a decorated static method is refused when the class is defined', () => {
    expect(codeOf(() => {
      class Static { static onIn(): void {} }
      Subscribe('deco.in')(Static, 'onIn');
    })).to.equal('SB_ERR_DEFINITION_INVALID');
  });
});

describe('decorators - standard mode (TC39, TypeScript 5+ default)', () => {
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'signalbus-decorators-')); });
  after(() => { rmSync(dir, { recursive: true, force: true }); });

  /** Compiles `source` as a project without experimentalDecorators would, and imports it. */
  async function compileStandard(name: string, source: string): Promise<Record<string, unknown>> {
    const { outputText } = ts.transpileModule(source.replaceAll('SIGNALBUS', coreUrl), {
      compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext, experimentalDecorators: false },
    });
    // The emit must really be standard decorators, or this file tests legacy mode twice.
    expect(outputText).to.contain('__esDecorate');
    const file = join(dir, `${name}.mjs`);
    writeFileSync(file, outputText);
    return import(pathToFileURL(file).href) as Promise<Record<string, unknown>>;
  }

  const service = `
    import { Nanoservice, Subscribe, Request } from 'SIGNALBUS';
    export const seen = [];
    @Nanoservice({ name: 'standard', version: '2.0.0' })
    export class Standard {
      label;
      constructor(label) { this.label = label; }
      @Subscribe('deco.in.>', { group: 'g' })
      async onIn(m) { seen.push(this.label + ':' + m.data); }
      @Request('deco.ask')
      async #answer(m) { return this.label + ':' + m.data + '!'; }
    }
    export class Extended extends Standard {
      @Subscribe('deco.more')
      async onMore() {}
    }
    @Nanoservice({ name: 'empty' })
    export class Empty { handle() {} }
    @Nanoservice({ name: 'fields' })
    export class WithField {
      calls = 0;
      @Subscribe('deco.field')
      onField = async () => { this.calls++; };
    }
  `;

  it('decorators - a standard-decorated class handles events and answers requests, private methods too', async () => {
    const mod = await compileStandard('service', service);
    const Standard = mod.Standard as new (label: string) => object;
    const def = definitionFromInstance(new Standard('label'));
    expect(def).to.include({ name: 'standard', version: '2.0.0' });
    expect(def.subscriptions.map((s) => [s.pattern, s.kind, s.group])).to.deep.equal([['deco.in.>', 'event', 'g'], ['deco.ask', 'request', undefined]]);
    expect(await exercise(new Standard('label'), mod.seen as unknown[])).to.equal('label:q!');
  });

  it('decorators - a standard-decorated subclass keeps its base class handlers and adds its own', async () => {
    const mod = await compileStandard('service', service);
    const Extended = mod.Extended as new (label: string) => object;
    expect(definitionFromInstance(new Extended('l')).subscriptions.map((s) => s.pattern)).to.deep.equal(['deco.in.>', 'deco.ask', 'deco.more']);
    // …and the base class did not gain the subclass's handler.
    const Standard = mod.Standard as new (label: string) => object;
    expect(definitionFromInstance(new Standard('l')).subscriptions).to.have.length(2);
  });

  it('decorators - a standard-decorated field holding a handler is used as one, as in legacy mode', async () => {
    const mod = await compileStandard('service', service);
    const instance = new (mod.WithField as new () => { calls: number })();
    const [sub] = definitionFromInstance(instance).subscriptions;
    expect(sub?.pattern).to.equal('deco.field');
    await sub?.handler({} as Envelope, {} as HandlerContext);
    expect(instance.calls).to.equal(1);
  });

  it('decorators - a standard @Nanoservice class without decorated methods fails with a definition error', async () => {
    const mod = await compileStandard('service', service);
    const Empty = mod.Empty as new () => object;
    expect(codeOf(() => definitionFromInstance(new Empty()))).to.equal('SB_ERR_DEFINITION_INVALID');
  });

  it('decorators - a standard decorator on a static method is refused when the class is defined', async () => {
    let failure: unknown;
    try {
      await compileStandard('static', `
        import { Subscribe } from 'SIGNALBUS';
        export class S { @Subscribe('deco.in') static onIn() {} }
      `);
    } catch (err) {
      failure = err;
    }
    // (The compiled module may load its own copy of core under tsx, so compare codes, not classes.)
    expect((failure as { code?: string } | undefined)?.code).to.equal('SB_ERR_DEFINITION_INVALID');
  });

  it('decorators - a compiler that gives standard decorators no metadata (TypeScript < 5.2) gets a definition error', () => {
    const context = { kind: 'method', name: 'onIn', static: false, private: false, metadata: undefined, access: { has: () => true, get: () => undefined }, addInitializer() {} };
    expect(codeOf(() => Subscribe('deco.in')(async () => {}, context as unknown as ClassMethodDecoratorContext))).to.equal('SB_ERR_DEFINITION_INVALID');
  });
});
