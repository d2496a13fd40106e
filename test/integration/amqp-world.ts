/**
 * Buses on a throwaway RabbitMQ exchange plus a plain amqplib connection, for suites that test
 * the AMQP transport against the real broker. Registers the mocha hooks that require the broker,
 * stop the buses after each case and delete the exchange, its dead-letter queue and the group
 * queues afterwards.
 *
 * @example
 * const world = amqpWorld('interop', 'sbinterop');   // inside describe(…)
 * const pub = await world.bus({ durable: true }); const ch = await world.plain.createChannel();
 */
import { randomUUID } from 'node:crypto';
import amqp, { type ChannelModel } from 'amqplib';
import { Bus, type RetryPolicy } from '../../core/index.js';
import { AmqpTransport } from '../../transports/amqp/index.js';
import { requireBroker } from '../helpers/brokers.js';
import { silentLogger } from '../helpers/silent-logger.js';

export const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

export interface AmqpWorld {
  readonly url: string;
  readonly exchange: string;
  /** The plain amqplib connection (set once the broker is reachable). */
  plain: ChannelModel;
  bus(options?: { durable?: boolean; retry?: Partial<RetryPolicy> }): Promise<Bus>;
}

export function amqpWorld(service: string, exchangePrefix: string): AmqpWorld {
  const buses: Bus[] = [];
  const transports: AmqpTransport[] = [];
  const world: AmqpWorld = {
    url: AMQP_URL,
    exchange: `${exchangePrefix}-${randomUUID().slice(0, 8)}`,
    plain: undefined as unknown as ChannelModel,
    async bus(options = {}) {
      const transport = new AmqpTransport({ url: AMQP_URL, exchange: world.exchange, durable: options.durable, groupQueueExpiresMs: 120_000 });
      transports.push(transport);
      const b = new Bus({ service: `${service}@test`, transport, metrics: false, logger: silentLogger, ...(options.retry ? { retry: options.retry } : {}) });
      buses.push(b);
      await b.start();
      return b;
    },
  };
  before(async function () {
    await requireBroker(this, 'rabbitmq');
    world.plain = await amqp.connect(AMQP_URL);
  });
  afterEach(async () => { await Promise.all(buses.splice(0).map((b) => b.stop())); });
  after(async () => {
    if (!world.plain) return;
    const admin = new AmqpTransport({ url: AMQP_URL, exchange: world.exchange });
    await admin.connect();
    await admin.deleteTopology(transports.flatMap((t) => [...t.groupQueues]));
    await admin.close();
    await world.plain.close();
  });
  return world;
}
