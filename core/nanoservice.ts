import 'reflect-metadata';
import type { Bus, SubscribeOptions, Subscription } from './bus.js';
import { DefinitionInvalidError } from './errors.js';
import type { Handler } from './handler.js';
import { validatePattern } from './subjects.js';

/** One subscription of a nanoservice: a pattern, its handler and how it is consumed. */
export interface SubscriptionDefinition extends SubscribeOptions {
  pattern: string;
  /** `event`: fire-and-forget messages; `request`: the handler's value is the reply. */
  kind: 'event' | 'request';
  handler: Handler;
}

/** What both ways of writing a nanoservice compile to. */
export interface NanoserviceDefinition {
  name: string;
  version: string;
  subscriptions: SubscriptionDefinition[];
  /** Before the subscriptions start: restore state, start timers. */
  start?(bus: Bus): Promise<void>;
  /** After the bus drained the handlers, before it closes the transports: stop timers, save state. */
  stop?(): Promise<void>;
  /**
   * The service's per-key state as a JSON-able value, for checkpoints taken while no message is
   * being handled (scale-out: one checkpoint per owned partition, with the input position).
   * Stateless services leave it out.
   */
  state?: NanoserviceState;
}

/** Snapshot and restore of a nanoservice's state (see `NanoserviceDefinition.state`). */
export interface NanoserviceState {
  /** The state now, JSON-able; taken between messages, never during one. */
  snapshot(): unknown;
  /** Replaces the state with a snapshot (before any message is handled). */
  restore(snapshot: unknown): void;
}

export interface NanoserviceSpec {
  name: string;
  version?: string;
  /** Each names its handler by key in `handlers`, or gives the function itself. */
  subscriptions: Array<Omit<SubscriptionDefinition, 'handler' | 'kind'> & { kind?: 'event' | 'request'; handler: string | Handler }>;
  handlers?: Record<string, Handler>;
}

const NAME = /^[A-Za-z0-9._-]+$/;

/**
 * A nanoservice as a plain object.
 * @example
 * defineNanoservice({ name: 'echo', subscriptions: [{ pattern: 'echo.in', handler: 'echo' }],
 *   handlers: { echo: async (m, ctx) => { await ctx.publish('echo.out', m.data); } } });
 */
export function defineNanoservice(spec: NanoserviceSpec): NanoserviceDefinition {
  if (!spec || typeof spec.name !== 'string' || !NAME.test(spec.name)) {
    throw new DefinitionInvalidError(`nanoservice name "${spec?.name}" must match [A-Za-z0-9._-]+`, { details: { field: 'name' } });
  }
  if (!Array.isArray(spec.subscriptions) || spec.subscriptions.length === 0) {
    throw new DefinitionInvalidError(`nanoservice ${spec.name} has no subscriptions`, { details: { field: 'subscriptions' } });
  }
  const subscriptions = spec.subscriptions.map((s, i): SubscriptionDefinition => {
    const where = `${spec.name}.subscriptions[${i}]`;
    try { validatePattern(s.pattern); } catch (cause) {
      throw new DefinitionInvalidError(`${where}.pattern: ${(cause as Error).message}`, { cause, details: { field: `subscriptions[${i}].pattern` } });
    }
    const handler = typeof s.handler === 'function' ? s.handler : spec.handlers?.[s.handler];
    if (typeof handler !== 'function') {
      throw new DefinitionInvalidError(`${where}.handler "${String(s.handler)}" is not a function nor a key of handlers`, { details: { field: `subscriptions[${i}].handler` } });
    }
    return { ...s, kind: s.kind ?? 'event', handler };
  });
  return { name: spec.name, version: spec.version ?? '0.0.0', subscriptions };
}

// The decorators work in both of TypeScript's modes, told apart by their arguments at run time:
// - legacy (`experimentalDecorators: true`): (prototype, name, descriptor) and (class). Their
//   facts are stored with Reflect.defineMetadata: tsx (esbuild) emits no design:* metadata, so
//   nothing may depend on it.
// - standard (TC39, the TypeScript 5+ default): (method, context) and (class, context). Member
//   decorators run before the class decorator and share `context.metadata` with it, which ends
//   up as `Class[Symbol.metadata]`. TypeScript creates that object only when Symbol.metadata
//   exists, and Node has none yet: this is the polyfill the TypeScript 5.2 notes give, on the
//   key esbuild falls back to, so tsc and tsx output agree. It must run before a decorated class
//   is evaluated, which importing these decorators guarantees.
(Symbol as { metadata?: symbol }).metadata ??= Symbol.for('Symbol.metadata');

const SERVICE_KEY = Symbol.for('signalbus:nanoservice');
const HANDLERS_KEY = Symbol.for('signalbus:handlers');

interface MethodEntry {
  method: string | symbol;
  pattern: string;
  kind: 'event' | 'request';
  options: SubscribeOptions;
  /** Standard mode: reads the method off an instance, private (`#name`) methods included. */
  get?: (instance: object) => unknown;
}

/** What `@Nanoservice(…)` returns: a class decorator for legacy and standard decorators alike. */
export type NanoserviceClassDecorator = (target: abstract new (...args: never[]) => unknown, context?: ClassDecoratorContext) => void;

/** What `@Subscribe(…)` and `@Request(…)` return: a method decorator for legacy and standard decorators alike. */
export interface NanoserviceMethodDecorator {
  (prototype: object, method: string | symbol, descriptor?: PropertyDescriptor): void;
  (method: (...args: never[]) => unknown, context: ClassMethodDecoratorContext): void;
  /** A field holding the handler (`onReading = async (m) => …`), as legacy mode allows too. */
  (field: undefined, context: ClassFieldDecoratorContext): void;
}

type DecoratorContext = ClassDecoratorContext | ClassMethodDecoratorContext | ClassFieldDecoratorContext;

function isStandardContext(x: unknown): x is DecoratorContext {
  return typeof x === 'object' && x !== null && typeof (x as { kind?: unknown }).kind === 'string';
}

const MODES_HINT = 'signalbus supports both decorator modes: standard decorators need TypeScript 5.2+ '
  + '(or esbuild/tsx) for context.metadata; legacy ones need "experimentalDecorators": true in tsconfig.json';

/**
 * Marks a class as a nanoservice. Works with standard (TC39) decorators and with
 * `experimentalDecorators`.
 * @example @Nanoservice({ name: 'filter', version: '1.0.0' }) class F { … }
 */
export function Nanoservice(meta: { name: string; version?: string }): NanoserviceClassDecorator {
  return (target, context) => {
    if (context !== undefined && (!isStandardContext(context) || context.kind !== 'class')) {
      throw new DefinitionInvalidError(`@Nanoservice(${JSON.stringify(meta.name)}) decorates a class, not a ${isStandardContext(context) ? context.kind : typeof context}`,
        { details: { field: 'class' } });
    }
    Reflect.defineMetadata(SERVICE_KEY, meta, target);
  };
}

function methodDecorator(kind: 'event' | 'request', pattern: string, options: SubscribeOptions): NanoserviceMethodDecorator {
  const decorator = kind === 'event' ? '@Subscribe' : '@Request';
  return ((target: object | undefined, methodOrContext: string | symbol | DecoratorContext): void => {
    if (isStandardContext(methodOrContext)) {
      const context = methodOrContext;
      const where = `${decorator}(${JSON.stringify(pattern)}) on ${String(context.name)}`;
      if ((context.kind !== 'method' && context.kind !== 'field') || context.static) {
        throw new DefinitionInvalidError(`${where}: decorate an instance method (this is a ${'static' in context && context.static ? 'static ' : ''}${context.kind})`, { details: { field: 'method' } });
      }
      const metadata = context.metadata as Record<symbol, MethodEntry[] | undefined> | undefined;
      if (!metadata) {
        throw new DefinitionInvalidError(`${where}: the compiler gave this standard decorator no context.metadata; ${MODES_HINT}`, { details: { field: 'method' } });
      }
      // The metadata object inherits from the base class's: copy before adding, as legacy mode does.
      if (!Object.hasOwn(metadata, HANDLERS_KEY)) metadata[HANDLERS_KEY] = [...(metadata[HANDLERS_KEY] ?? [])];
      const get = context.access.get as (instance: object) => unknown;
      metadata[HANDLERS_KEY]!.push({ method: context.name, pattern, kind, options, get });
      return;
    }
    if (typeof target !== 'object' || target === null) {
      const what = typeof target === 'function' ? 'static ' : '';
      throw new DefinitionInvalidError(`${decorator}(${JSON.stringify(pattern)}) on ${what}${String(methodOrContext)}: decorate an instance method`, { details: { field: 'method' } });
    }
    const ctor = (target as { constructor: object }).constructor;
    const list: MethodEntry[] = [...(Reflect.getMetadata(HANDLERS_KEY, ctor) ?? [])];
    list.push({ method: methodOrContext, pattern, kind, options });
    Reflect.defineMetadata(HANDLERS_KEY, list, ctor);
  }) as NanoserviceMethodDecorator;
}

/** Handles events on `pattern`. @example @Subscribe('sensor.reading.>', { ordered: true }) onReading(m, ctx) { … } */
export function Subscribe(pattern: string, options: SubscribeOptions = {}): NanoserviceMethodDecorator {
  return methodDecorator('event', pattern, options);
}

/** Answers requests on `pattern`; the method's value is the reply. */
export function Request(pattern: string, options: SubscribeOptions = {}): NanoserviceMethodDecorator {
  return methodDecorator('request', pattern, options);
}

/** The methods a decorated class handles messages with, from whichever mode decorated it. */
function handlerEntries(ctor: object): MethodEntry[] {
  const standard = (ctor as Record<symbol, Record<symbol, MethodEntry[] | undefined> | undefined>)[(Symbol as { metadata?: symbol }).metadata!]?.[HANDLERS_KEY];
  const legacy = Reflect.getMetadata(HANDLERS_KEY, ctor) as MethodEntry[] | undefined;
  return [...(standard ?? []), ...(legacy ?? [])];
}

/** The definition of a decorated class instance (the same shape `defineNanoservice` makes). */
export function definitionFromInstance(instance: object): NanoserviceDefinition {
  const ctor = instance.constructor;
  const meta = Reflect.getMetadata(SERVICE_KEY, ctor) as { name: string; version?: string } | undefined;
  if (!meta) throw new DefinitionInvalidError(`${ctor.name} is not decorated with @Nanoservice`, { details: { field: 'class' } });
  const entries = handlerEntries(ctor);
  if (entries.length === 0) {
    // The likely cause is a build that ran the decorators in a way that recorded nothing.
    throw new DefinitionInvalidError(`${ctor.name} is decorated with @Nanoservice but no method with @Subscribe or @Request was recorded; ${MODES_HINT}`,
      { details: { field: 'subscriptions' } });
  }
  const target = instance as Record<string | symbol, unknown>;
  return defineNanoservice({
    name: meta.name, version: meta.version,
    subscriptions: entries.map((e) => {
      const fn = e.get ? e.get(instance) : target[e.method];
      if (typeof fn !== 'function') throw new DefinitionInvalidError(`${ctor.name}.${String(e.method)} is not a method`);
      return { ...e.options, pattern: e.pattern, kind: e.kind, handler: (fn as Handler).bind(instance) };
    }),
  });
}

/**
 * Starts a definition (or decorated instance) on a bus: its `start(bus)`, then every subscription.
 * Its `stop()` runs when the bus stops, after the handlers drained.
 */
export async function startNanoservice(bus: Bus, service: NanoserviceDefinition | object): Promise<Subscription[]> {
  const def = isDefinition(service) ? service : definitionFromInstance(service);
  await def.start?.(bus);
  const subs: Subscription[] = [];
  try {
    for (const { pattern, handler, kind: _kind, ...options } of def.subscriptions) {
      subs.push(await bus.subscribe(pattern, handler, options));
    }
  } catch (err) {
    await Promise.all(subs.map((s) => s.unsubscribe()));
    await def.stop?.();
    throw err;
  }
  if (def.stop) bus.onStop(() => def.stop!());
  return subs;
}

function isDefinition(x: object): x is NanoserviceDefinition {
  return Array.isArray((x as NanoserviceDefinition).subscriptions) && typeof (x as NanoserviceDefinition).name === 'string'
    && (x as NanoserviceDefinition).subscriptions.every((s) => typeof s.handler === 'function');
}
