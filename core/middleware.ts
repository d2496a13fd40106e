import type { Envelope } from './envelope.js';
import { HandlerTimeoutError, SignalbusError } from './errors.js';
import type { HandlerContext } from './handler.js';

/** What middleware sees: the handler's context plus the message and, after `next()`, the result. */
export interface MiddlewareContext extends HandlerContext {
  readonly message: Envelope;
  /** The handler's return value (a request's reply data) once `next()` resolved. */
  result?: unknown;
}

/**
 * Runs around the handler: do something, `await next()`, do something after.
 * Not calling `next()` skips the handler; the message is then acked.
 */
export type Middleware = (ctx: MiddlewareContext, next: () => Promise<void>) => Promise<void>;

class NextCalledTwiceError extends SignalbusError { readonly code = 'SB_ERR_MIDDLEWARE_NEXT_TWICE'; }

/**
 * Composes middleware into one function, hono-style; a middleware that calls `next()` twice
 * gets an error instead of running the handler twice.
 */
export function compose(middleware: readonly Middleware[], last: (ctx: MiddlewareContext) => Promise<void>): (ctx: MiddlewareContext) => Promise<void> {
  if (middleware.length === 0) return last;
  return (ctx) => {
    let index = -1;
    const dispatch = (i: number): Promise<void> => {
      if (i <= index) return Promise.reject(new NextCalledTwiceError('next() called more than once in one middleware'));
      index = i;
      if (i === middleware.length) return last(ctx);
      return middleware[i]!(ctx, () => dispatch(i + 1));
    };
    return dispatch(0);
  };
}

export interface DedupeOptions {
  /** How many recent `source`+`id` pairs are remembered. */
  window?: number;
  /** Forget a pair after this long, ms (0 = only the size bound). */
  ttlMs?: number;
  /** Called for each duplicate skipped. */
  onDuplicate?: (ctx: MiddlewareContext) => void;
}

/**
 * Skips messages whose `source`+`id` was handled successfully within the window, and duplicates
 * of one still in flight. A failed handling is not remembered, so a retry still runs.
 *
 * @example bus.use(dedupe({ window: 10_000 }))
 */
export function dedupe(options: DedupeOptions = {}): Middleware & { readonly seen: number } {
  const window = options.window ?? 10_000;
  const ttl = options.ttlMs ?? 0;
  const done = new Map<string, number>();
  const inFlight = new Set<string>();
  const mw = async (ctx: MiddlewareContext, next: () => Promise<void>) => {
    const key = `${ctx.message.source}\u0000${ctx.message.id}`;
    const at = done.get(key);
    if ((at !== undefined && (ttl === 0 || Date.now() - at < ttl)) || inFlight.has(key)) {
      options.onDuplicate?.(ctx);
      ctx.metric('duplicate', 'dropped');
      return;
    }
    inFlight.add(key);
    try {
      await next();
      done.delete(key);
      done.set(key, Date.now());
      if (done.size > window) done.delete(done.keys().next().value!);
    } finally {
      inFlight.delete(key);
    }
  };
  Object.defineProperty(mw, 'seen', { get: () => done.size });
  return mw as Middleware & { readonly seen: number };
}

/**
 * Fails the handling with HandlerTimeoutError after `ms` and aborts `ctx.signal`-aware work.
 * @example bus.subscribe('a.b', handler, { middleware: [timeout(2000)] })
 */
export function timeout(ms: number): Middleware {
  return (ctx, next) => new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      const err = new HandlerTimeoutError(`handler for ${ctx.subject} took longer than ${ms} ms`, { details: { timeoutMs: ms } });
      ctx.abort(err);
      reject(err);
    }, ms);
    next().then(resolve, reject).finally(() => clearTimeout(timer));
  });
}

/**
 * Records each handling's duration as a `handled` metric field with a value in ms, and logs
 * it at debug level with the trace id, so traces and metrics line up.
 */
export function tracing(): Middleware {
  return async (ctx, next) => {
    const start = performance.now();
    let outcome = 'ok';
    try { await next(); } catch (err) { outcome = 'failed'; throw err; } finally {
      const ms = performance.now() - start;
      ctx.metric('handled', outcome === 'ok' ? 'timed' : 'failed', { value: ms, unit: 'ms' });
      ctx.logger.debug('handled', { subject: ctx.subject, id: ctx.message.id, traceparent: ctx.message.traceparent, ms, outcome });
    }
  };
}
