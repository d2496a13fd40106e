/**
 * The broker objects the AMQP transport uses, their names and how they are declared.
 *
 * ```
 * <exchange>          topic, durable     every subject; routing key = subject
 * <exchange>.retry    headers, durable   retried copies, routed by `sb-retry-delay` to a tier queue
 * <exchange>.retry.<ms>  queues, durable TTL <ms>; expired copies dead-letter to the default
 *                                       exchange, whose routing key (the origin queue) takes them home
 * <exchange>.dlx      fanout, durable    dead-letter exchange of group queues (overflow, rejects)
 * <exchange>.dlq      queue, durable     bound to <exchange>.dlx and to `dlq.#` on <exchange>
 * <group>.<pattern>   queue, durable     one per consumer group and pattern; classic or quorum
 *                                       (`queueType`), optionally single-active-consumer
 * (server-named)      queue, exclusive   one per subscription without a group (always classic)
 *
 * Consumer queues dead-letter to <exchange>.dlx what the broker drops (overflow) and what the
 * transport refuses (a non-CloudEvent on a subscription that is not `raw`).
 * ```
 */
import { createHash } from 'node:crypto';
import { OptionsInvalidError, toAmqpRoutingKey } from '../../core/index.js';
import type { Channel } from 'amqplib';
import { DELAY_HEADER } from './binding.js';
import type { AmqpQueueType } from './options.js';

export interface TopologyNames {
  exchange: string;
  retryExchange: string;
  deadLetterExchange: string;
  deadLetterQueue: string;
}

export function topologyNames(exchange: string): TopologyNames {
  return {
    exchange, retryExchange: `${exchange}.retry`, deadLetterExchange: `${exchange}.dlx`, deadLetterQueue: `${exchange}.dlq`,
  };
}

/**
 * Retry delays are rounded to a tier: a TTL queue holds messages of one delay only, so they expire
 * in arrival order and a long retry never holds up a short one.
 */
export const RETRY_TIERS_MS = [10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000, 300_000, 900_000, 3_600_000] as const;

/** The tier closest to `delayMs` on a log scale (jitter makes exactness moot). */
export function retryTier(delayMs: number): number {
  if (!(delayMs > RETRY_TIERS_MS[0])) return RETRY_TIERS_MS[0];
  let best: number = RETRY_TIERS_MS[0];
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const tier of RETRY_TIERS_MS) {
    const d = Math.abs(Math.log(tier / delayMs));
    if (d < bestDistance) { best = tier; bestDistance = d; }
  }
  return best;
}

export function retryQueueName(names: TopologyNames, tierMs: number): string {
  return `${names.retryExchange}.${tierMs}`;
}

const MAX_QUEUE_NAME = 255;

/**
 * The durable queue of a consumer group: `<group>.<pattern>` (too long names keep a readable
 * head and end in a hash).
 * @example groupQueueName('billing', 'orders.*') // 'billing.orders.*'
 */
export function groupQueueName(group: string, pattern: string): string {
  const name = `${group}.${pattern}`;
  if (Buffer.byteLength(name) <= MAX_QUEUE_NAME) return name;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 16);
  return `${Buffer.from(name).subarray(0, 200).toString('utf8').replace(/\uFFFD+$/, '')}~${hash}`;
}

export interface ExchangeTopologyOptions {
  deadLetterQueueMaxLength: number;
  deadLetterBinding: string;
}

/** Declares the exchanges and the dead-letter queue (idempotent; re-run after every reconnect). */
export async function declareExchangeTopology(ch: Channel, names: TopologyNames, o: ExchangeTopologyOptions): Promise<void> {
  await ch.assertExchange(names.exchange, 'topic', { durable: true });
  await ch.assertExchange(names.retryExchange, 'headers', { durable: true });
  await ch.assertExchange(names.deadLetterExchange, 'fanout', { durable: true });
  await ch.assertQueue(names.deadLetterQueue, { durable: true, arguments: { 'x-max-length': o.deadLetterQueueMaxLength } });
  await ch.bindQueue(names.deadLetterQueue, names.deadLetterExchange, '');
  await ch.bindQueue(names.deadLetterQueue, names.exchange, o.deadLetterBinding);
}

/** Declares the TTL queue of one retry tier and its binding on the retry exchange. */
export async function declareRetryTier(ch: Channel, names: TopologyNames, tierMs: number): Promise<void> {
  const queue = retryQueueName(names, tierMs);
  // No dead-letter routing key: an expired copy keeps the routing key it was published with,
  // the name of the queue it came from, and the default exchange delivers it straight there.
  await ch.assertQueue(queue, { durable: true, arguments: { 'x-message-ttl': tierMs, 'x-dead-letter-exchange': '' } });
  await ch.bindQueue(queue, names.retryExchange, '', { 'x-match': 'all', [DELAY_HEADER]: String(tierMs) });
}

export interface SubscriptionQueue {
  /** `undefined` for a server-named exclusive queue. */
  group?: string;
  pattern: string;
  groupQueueExpiresMs?: number;
  /** Group queues only. Default classic. */
  queueType?: AmqpQueueType;
  /** Group queues only: `x-single-active-consumer`. */
  singleActiveConsumer?: boolean;
  /** Quorum group queues only: `x-delivery-limit`. */
  deliveryLimit?: number;
}

/**
 * The arguments a group queue is declared with. Classic without single active consumer is
 * exactly what earlier versions declared, so their queues stay equivalent. Nothing a quorum queue
 * refuses is ever set here (RabbitMQ 3.10: `x-max-priority`, exclusive, auto-delete, non-durable;
 * `x-expires` and dead-lettering are accepted); global prefetch, which a quorum queue answers by
 * closing the connection, is never used (prefetch is per consumer).
 *
 * @example groupQueueArguments(topologyNames('sb'), { group: 'g', pattern: 'a', queueType: 'quorum' })
 * // { 'x-dead-letter-exchange': 'sb.dlx', 'x-queue-type': 'quorum' }
 */
export function groupQueueArguments(names: TopologyNames, s: SubscriptionQueue): Record<string, unknown> {
  const args: Record<string, unknown> = { 'x-dead-letter-exchange': names.deadLetterExchange };
  if (s.groupQueueExpiresMs !== undefined) args['x-expires'] = s.groupQueueExpiresMs;
  if (s.queueType === 'quorum') {
    args['x-queue-type'] = 'quorum';
    if (s.deliveryLimit !== undefined) args['x-delivery-limit'] = s.deliveryLimit;
  }
  if (s.singleActiveConsumer) args['x-single-active-consumer'] = true;
  return args;
}

/** Declares and binds a subscription's queue; resolves with its name. */
export async function declareSubscriptionQueue(ch: Channel, names: TopologyNames, s: SubscriptionQueue): Promise<string> {
  let queue: string;
  if (s.group === undefined) {
    queue = (await ch.assertQueue('', { exclusive: true, autoDelete: true, durable: false, arguments: { 'x-dead-letter-exchange': names.deadLetterExchange } })).queue;
  } else {
    const name = groupQueueName(s.group, s.pattern);
    const args = groupQueueArguments(names, s);
    try {
      queue = (await ch.assertQueue(name, { durable: true, arguments: args })).queue;
    } catch (err) {
      throw groupQueueDeclareError(err, name, args) ?? err;
    }
  }
  await ch.bindQueue(queue, names.exchange, toAmqpRoutingKey(s.pattern));
  return queue;
}

/** The option that sets each argument of a group queue, for errors a user can act on. */
const ARGUMENT_OPTIONS: Record<string, string> = {
  'x-queue-type': 'queueType',
  'x-single-active-consumer': 'singleActiveConsumer',
  'x-delivery-limit': 'deliveryLimit',
  'x-expires': 'groupQueueExpiresMs',
  'x-dead-letter-exchange': 'exchange',
};

/**
 * A group queue declare refused with PRECONDITION_FAILED (406): the queue exists with other
 * arguments (or properties), which RabbitMQ never changes on a redeclare. Becomes an
 * OptionsInvalidError naming the argument, the option behind it and the two ways out; undefined
 * for any other error.
 */
export function groupQueueDeclareError(err: unknown, queue: string, declared: Record<string, unknown>): OptionsInvalidError | undefined {
  if (!(err instanceof Error) || (err as { code?: unknown }).code !== 406) return undefined;
  const broker = /PRECONDITION_FAILED - (.*?)"?$/.exec(err.message)?.[1] ?? err.message;
  const argument = /inequivalent arg '([^']+)'/.exec(broker)?.[1];
  const field = (argument && ARGUMENT_OPTIONS[argument]) ?? 'group';
  const ours = argument === undefined ? undefined : argument in declared ? JSON.stringify(declared[argument]) : 'none';
  const vhost = /in vhost '([^']*)'/.exec(broker)?.[1] ?? '/';
  const what = argument === undefined ? 'other arguments' : `another ${argument} (this transport declares ${ours}, from option "${field}")`;
  return new OptionsInvalidError(
    `amqp group queue "${queue}" already exists with ${what}; RabbitMQ said: ${broker}. A queue's arguments cannot be changed: `
      + `delete the queue (rabbitmqctl delete_queue -p '${vhost}' '${queue}'; its messages go with it) or subscribe with another group name`,
    { cause: err, details: { field, queue, ...(argument ? { argument } : {}) } },
  );
}

/**
 * Deletes the exchange-scoped objects (for tests and tear-down of a private exchange) and the
 * given queues. Never call it on a shared exchange other services use.
 */
export async function deleteTopology(ch: Channel, names: TopologyNames, queues: Iterable<string> = []): Promise<void> {
  for (const q of queues) await ch.deleteQueue(q);
  for (const tier of RETRY_TIERS_MS) await ch.deleteQueue(retryQueueName(names, tier));
  await ch.deleteQueue(names.deadLetterQueue);
  await ch.deleteExchange(names.retryExchange);
  await ch.deleteExchange(names.deadLetterExchange);
  await ch.deleteExchange(names.exchange);
}
