/**
 * Webhook subscriptions: the bus POSTs every event matching a pattern to a URL, one CloudEvent
 * per request (binary mode by default). A 2xx answer settles the event; network errors, timeouts,
 * 408, 429 and 5xx are retried with the bus' exponential backoff and jitter; after `maxAttempts`
 * (or at once for other 4xx answers, which will not change on retry) the event is dead-lettered
 * to `dlq.<subject>` with `dlqreason` SB_ERR_WEBHOOK_DELIVERY, by the bus' own settlement.
 *
 * @example
 * const hook = await startWebhook({ bus, pattern: 'acme.orders.>', url: 'https://hooks.example.com/orders' });
 * await hook.stop();
 */
import { OptionsInvalidError, resolveTlsOptions, SignalbusError, type Bus, type Envelope, type Subscription, type TlsOptions } from '../core/index.js';
import { toHttpBinary, toHttpStructured } from '../transports/http/binding.js';
import { HttpClient } from '../transports/http/http-client.js';

/** A webhook target did not take an event; `permanent` when retrying cannot help (a 4xx answer). */
export class WebhookDeliveryError extends SignalbusError {
  readonly code = 'SB_ERR_WEBHOOK_DELIVERY';
  constructor(message: string, readonly status: number, readonly permanent: boolean, options?: { cause?: unknown }) {
    super(message, { cause: options?.cause, details: { status } });
  }
}

export interface WebhookOptions {
  /** The bus to subscribe on. */
  bus: Bus;
  /** Subjects to deliver (a pattern). */
  pattern: string;
  /** Where to POST: `http(s)://…`. */
  url: string;
  /** Consumer group, so several instances share the deliveries. */
  group?: string;
  /** More headers on every POST (e.g. a shared secret). */
  headers?: Record<string, string>;
  /** `binary` (default) or `structured`. */
  mode?: 'binary' | 'structured';
  /** Tries per event, the first included, before dead-lettering. Default 5. */
  maxAttempts?: number;
  /** First retry delay, ms (doubling, jittered). Default 500. */
  initialDelayMs?: number;
  /** Longest retry delay, ms. Default 30,000. */
  maxDelayMs?: number;
  /** Time one POST may take, ms. Default 10,000. */
  timeoutMs?: number;
  /** POSTs in flight at once. Default 16. */
  maxInFlight?: number;
  /** HTTPS trust settings for the target. */
  tls?: TlsOptions;
}

export interface Webhook {
  readonly subscription: Subscription;
  /** Stops taking events, waits for deliveries in flight, closes sockets. */
  stop(): Promise<void>;
}

/**
 * Subscribes on `bus` and delivers matching events to `url`. See the module comment.
 * @example await startWebhook({ bus, pattern: 'orders.>', url: 'http://127.0.0.1:9000/hook', maxAttempts: 3 })
 */
export async function startWebhook(options: WebhookOptions): Promise<Webhook> {
  let target: URL;
  try { target = new URL(options.url); } catch (cause) {
    throw new OptionsInvalidError(`webhook url "${options.url}" is not a URL`, { cause, details: { field: 'url' } });
  }
  if (target.protocol !== 'http:' && target.protocol !== 'https:') throw new OptionsInvalidError('webhook url must be http(s)://', { details: { field: 'url' } });
  if (options.mode !== undefined && options.mode !== 'binary' && options.mode !== 'structured') {
    throw new OptionsInvalidError('webhook mode must be "binary" or "structured"', { details: { field: 'mode' } });
  }
  const timeoutMs = options.timeoutMs ?? 10_000;
  if (!(timeoutMs > 0)) throw new OptionsInvalidError('webhook timeoutMs must be > 0', { details: { field: 'timeoutMs' } });
  const maxInFlight = options.maxInFlight ?? 16;
  const client = new HttpClient(new URL(target.origin), { maxSockets: maxInFlight, tls: options.tls === undefined ? undefined : resolveTlsOptions('webhook', options.tls) });
  const path = target.pathname + target.search;
  const encode = options.mode === 'structured' ? toHttpStructured : toHttpBinary;
  const extra = options.headers ?? {};

  const deliver = async (envelope: Envelope): Promise<void> => {
    const { headers, body } = encode(envelope);
    const out: Record<string, string | number> = { ...headers, ...extra, 'content-length': body?.byteLength ?? 0 };
    let answer;
    try { answer = await client.send('POST', path, out, body, timeoutMs); } catch (cause) {
      throw new WebhookDeliveryError(`webhook ${target.host} unreachable: ${(cause as Error).message}`, 0, false, { cause });
    }
    if (answer.status >= 200 && answer.status < 300) return;
    const retryable = answer.status === 408 || answer.status === 429 || answer.status >= 500;
    throw new WebhookDeliveryError(`webhook ${target.host} answered ${answer.status}`, answer.status, !retryable);
  };

  // raw: the data stays the bytes the transport carried (objects on in-process transports are encoded by the binding).
  const subscription = await options.bus.subscribe(options.pattern, (envelope) => deliver(envelope), {
    group: options.group, raw: true, maxInFlight,
    retry: { maxAttempts: options.maxAttempts ?? 5, initialDelayMs: options.initialDelayMs ?? 500, maxDelayMs: options.maxDelayMs ?? 30_000 },
  });
  return {
    subscription,
    async stop() { await subscription.drain(); client.destroy(); },
  };
}
