import type { ChannelModel } from 'amqplib';
import { groupQueueName } from '../../transports/amqp/topology.js';

/** A service of a scaled pipeline on RabbitMQ: its name, its input and whether the input travels partitioned. */
export interface ScaledInput { service: string; input: string; partitioned: boolean }

/** The single-active-consumer queues of a scaled pipeline: one per partition of each partitioned input. */
export function partitionQueues(pipeline: string, inputs: readonly ScaledInput[], partitions: number): string[] {
  return inputs.flatMap(({ service, input, partitioned }) => (partitioned
    ? Array.from({ length: partitions }, (_, p) => groupQueueName(`${pipeline}.${service}`, `part.${p}.${input}`))
    : [groupQueueName(`${pipeline}.${service}`, input)]));
}

/**
 * Deletes what a scaled pipeline declared on RabbitMQ (durable quorum queues outlive the run):
 * its partition queues, checkpoint queues, membership exchange, and the transport's exchanges.
 */
export async function deleteScaledPipeline(conn: ChannelModel, o: { pipeline: string; exchange: string; inputs: readonly ScaledInput[]; partitions: number }): Promise<void> {
  const ch = await conn.createChannel();
  ch.on('error', () => {});
  const queues = [...partitionQueues(o.pipeline, o.inputs, o.partitions), `${o.exchange}.dlq`];
  for (const { service, partitioned } of o.inputs) {
    for (let p = 0; p < (partitioned ? o.partitions : 1); p++) queues.push(`sb-${o.pipeline}.ckpt.${o.pipeline}.${service}.p${p}`);
  }
  for (const q of queues) await ch.deleteQueue(q).catch(() => {});
  for (const x of [o.exchange, `${o.exchange}.retry`, `${o.exchange}.dlx`, `sb-${o.pipeline}.members`]) await ch.deleteExchange(x).catch(() => {});
  await ch.close().catch(() => {});
}
