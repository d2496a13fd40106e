import type { Transport } from '../../core/index.js';

/**
 * How the input of a scaled service travels, decided from its transport's capabilities; one rule
 * for `signalbus run` (which starts the service that way) and `signalbus lint` (which reports it
 * before the start):
 * - `shared`: input from outside the pipeline on a transport with consumer groups and nothing to
 *   replay or hold: the members share it as one queue group;
 * - `scaled`: the coordination's own way (NATS: leases over a JetStream log it replays;
 *   AMQP: quorum queues with a single active consumer and held acks);
 * - `{ problem }`: neither works. `problem` reads on from "… routed to <transport>": without a log
 *   to replay from, a member's crash would lose what it held; without a single active consumer
 *   two members would split a partition.
 */
export function scaleCarriage(coordination: 'nats' | 'amqp', partitioned: boolean, transport: Transport): 'shared' | 'scaled' | { problem: string } {
  const caps = transport.capabilities;
  if (coordination === 'nats') {
    if (caps.replay === true) return 'scaled';
    if (!partitioned && caps.queueGroups) return 'shared';
    return { problem: ', which keeps no log to replay from; route it to NATS with jetstream=1 (its stream capturing the subject)' };
  }
  if (caps.holdAcks !== true && !partitioned && caps.queueGroups) return 'shared';
  const t = transport as { queueType?: string; singleActiveConsumer?: boolean };
  if (caps.holdAcks === true && t.queueType === 'quorum' && t.singleActiveConsumer === true) return 'scaled';
  return { problem: '; it needs an AMQP transport with quorum queues and a single active consumer (amqp://…?durable=1&queueType=quorum&singleActiveConsumer=1)' };
}
