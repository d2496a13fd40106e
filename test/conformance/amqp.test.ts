import { randomUUID } from 'node:crypto';
import { AmqpTransport, type AmqpTransportOptions } from '../../transports/amqp/index.js';
import { requireBroker } from '../helpers/brokers.js';
import { OwnRabbitNode, RABBITMQ_SERVER } from '../helpers/own-rabbitmq-node.js';
import { runConformance, type BrokerRestartTarget } from './suite.js';

const url = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

/** For the restart case: a RabbitMQ node of our own, whose RabbitMQ application is restarted mid-stream. */
function ownNode(extra: Partial<AmqpTransportOptions>, losesInFlight?: string): BrokerRestartTarget {
  let node: OwnRabbitNode | undefined;
  return {
    ...(losesInFlight === undefined ? {} : { losesInFlight }),
    executable: RABBITMQ_SERVER,
    start: async () => { node = await OwnRabbitNode.start({ tls: false, config: [], startTimeoutMs: 60_000 }); },
    create: () => new AmqpTransport({ url: `amqp://guest:guest@127.0.0.1:${node!.port}`, exchange: 'sbconf-restart', ...extra }),
    restart: async () => { await node!.restartApp(); },
    stop: async () => { await node?.stop(); },
  };
}

/** One private exchange per mode and run; everything declared on it is deleted afterwards. */
function target(name: string, extra: Partial<AmqpTransportOptions>, restart: BrokerRestartTarget) {
  const exchange = `sbconf-${name}-${randomUUID().slice(0, 8)}`;
  const made: AmqpTransport[] = [];
  return {
    name,
    restart,
    // Group queues outlive their consumers by design; expire them even if the cleanup below is skipped.
    create: () => { const t = new AmqpTransport({ url, exchange, groupQueueExpiresMs: 300_000, ...extra }); made.push(t); return t; },
    after: async () => {
      if (made.length === 0) return; // the broker was unreachable and the suite skipped
      const admin = new AmqpTransport({ url, exchange });
      await admin.connect();
      await admin.deleteTopology(new Set(made.flatMap((t) => [...t.groupQueues])));
      await admin.close();
    },
  };
}

describe('amqp conformance (RabbitMQ)', function () {
  before(async function () { await requireBroker(this, 'rabbitmq'); });
  runConformance(target('amqp', {}, ownNode({},
    'amqp with durable: false publishes transient messages without confirms, which a RabbitMQ restart drops (amqp-durable keeps them)')));
  runConformance(target('amqp-durable', { durable: true }, ownNode({ durable: true })));
});
