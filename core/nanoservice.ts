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

// Decorators store their facts explicitly with Reflect.defineMetadata: tsx (esbuild) emits no
// design:* metadata, so nothing may depend on it.
const SERVICE_KEY = Symbol.for('signalbus:nanoservice');
const HANDLERS_KEY = Symbol.for('signalbus:handlers');

interface MethodEntry { method: string | symbol; pattern: string; kind: 'event' | 'request'; options: SubscribeOptions }

/** Marks a class as a nanoservice. @example @Nanoservice({ name: 'filter', version: '1.0.0' }) class F { … } */
export function Nanoservice(meta: { name: string; version?: string }): ClassDecorator {
  return (target) => { Reflect.defineMetadata(SERVICE_KEY, meta, target); };
}

function methodDecorator(kind: 'event' | 'request', pattern: string, options: SubscribeOptions): MethodDecorator {
  return (target, method) => {
    const ctor = (target as { constructor: object }).constructor;
    const list: MethodEntry[] = [...(Reflect.getMetadata(HANDLERS_KEY, ctor) ?? [])];
    list.push({ method, pattern, kind, options });
    Reflect.defineMetadata(HANDLERS_KEY, list, ctor);
  };
}

/** Handles events on `pattern`. @example @Subscribe('sensor.reading.>', { ordered: true }) onReading(m, ctx) { … } */
export function Subscribe(pattern: string, options: SubscribeOptions = {}): MethodDecorator {
  return methodDecorator('event', pattern, options);
}

/** Answers requests on `pattern`; the method's value is the reply. */
export function Request(pattern: string, options: SubscribeOptions = {}): MethodDecorator {
  return methodDecorator('request', pattern, options);
}

/** The definition of a decorated class instance (the same shape `defineNanoservice` makes). */
export function definitionFromInstance(instance: object): NanoserviceDefinition {
  const ctor = instance.constructor;
  const meta = Reflect.getMetadata(SERVICE_KEY, ctor) as { name: string; version?: string } | undefined;
  if (!meta) throw new DefinitionInvalidError(`${ctor.name} is not decorated with @Nanoservice`, { details: { field: 'class' } });
  const entries = (Reflect.getMetadata(HANDLERS_KEY, ctor) ?? []) as MethodEntry[];
  const target = instance as Record<string | symbol, unknown>;
  return defineNanoservice({
    name: meta.name, version: meta.version,
    subscriptions: entries.map((e) => {
      const fn = target[e.method];
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
