import { createHash } from 'node:crypto';
import {
  AckPolicy, DeliverPolicy, nanos, nuid, RetentionPolicy, StorageType,
  type ConsumerConfig, type JetStreamManager, type StreamConfig,
} from 'nats';
import { OptionsInvalidError } from '../../core/index.js';
import { fromNatsError, jetStreamErrorCode, JS_ERR } from './errors.js';
import type { ResolvedNatsOptions } from './options.js';

type JsOptions = NonNullable<ResolvedNatsOptions['jetstream']>;

const RETENTION = { limits: RetentionPolicy.Limits, interest: RetentionPolicy.Interest, workqueue: RetentionPolicy.Workqueue } as const;
const STORAGE = { file: StorageType.File, memory: StorageType.Memory } as const;

/**
 * Creates the stream from the options, or verifies an existing one: subjects the options name
 * but the stream lacks are added; a different retention or storage (which JetStream cannot
 * change in place) is an OptionsInvalidError naming the field.
 */
export async function ensureStream(jsm: JetStreamManager, o: JsOptions): Promise<StreamConfig> {
  let existing: StreamConfig | undefined;
  try {
    existing = (await jsm.streams.info(o.stream)).config;
  } catch (err) {
    if (jetStreamErrorCode(err) !== JS_ERR.streamNotFound) throw fromNatsError(err, `looking up stream ${o.stream}`);
  }
  if (!existing) {
    if (!o.subjects || o.subjects.length === 0) {
      throw new OptionsInvalidError(`stream ${o.stream} does not exist; jetstream.subjects is needed to create it`, { details: { field: 'jetstream.subjects' } });
    }
    try {
      return (await jsm.streams.add({
        name: o.stream, subjects: o.subjects, retention: RETENTION[o.retention], storage: STORAGE[o.storage], num_replicas: o.replicas,
        duplicate_window: nanos(o.duplicateWindowMs), max_age: nanos(o.maxAgeMs),
      })).config;
    } catch (err) {
      throw fromNatsError(err, `creating stream ${o.stream}`);
    }
  }
  if (existing.retention !== RETENTION[o.retention]) {
    throw new OptionsInvalidError(`stream ${o.stream} has retention ${existing.retention}, options say ${o.retention}`, { details: { field: 'jetstream.retention' } });
  }
  if (existing.storage !== STORAGE[o.storage]) {
    throw new OptionsInvalidError(`stream ${o.stream} has storage ${existing.storage}, options say ${o.storage}`, { details: { field: 'jetstream.storage' } });
  }
  const missing = (o.subjects ?? []).filter((s) => !existing!.subjects?.includes(s));
  if (missing.length > 0) {
    try {
      return (await jsm.streams.update(o.stream, { ...existing, subjects: [...(existing.subjects ?? []), ...missing] })).config;
    } catch (err) {
      throw fromNatsError(err, `adding subjects ${missing.join(', ')} to stream ${o.stream}`);
    }
  }
  return existing;
}

/**
 * The durable consumer name shared by a group's members on one pattern: readable group name plus
 * a hash of the pattern (one group may subscribe to several patterns; names may not hold `.`).
 */
export function durableName(group: string, pattern: string): string {
  const hash = createHash('sha256').update(pattern).digest('hex').slice(0, 10);
  return `${group.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 200)}_${hash}`;
}

/** A unique name for the consumer of an ungrouped subscription (deleted when it ends). */
export function ephemeralName(): string { return `sb_${nuid.next()}`; }

/** Consumer settings: explicit ack, bounded unacked messages, signalbus counts attempts itself. */
export function consumerConfig(o: JsOptions, pattern: string, name: string, durable: boolean, maxAckPending: number): Partial<ConsumerConfig> {
  const config: Partial<ConsumerConfig> = {
    ack_policy: AckPolicy.Explicit,
    deliver_policy: o.deliverPolicy === 'all' ? DeliverPolicy.All : DeliverPolicy.New,
    filter_subject: pattern,
    max_ack_pending: maxAckPending,
    ack_wait: nanos(o.ackWaitMs),
    max_deliver: -1,
  };
  if (durable) config.durable_name = name;
  else { config.name = name; config.inactive_threshold = nanos(60_000); }
  return config;
}

/** How long a replay consumer outlives its owner without pulls before the server removes it, ms. */
export const REPLAY_INACTIVE_MS = 30_000;

/**
 * A replay consumer: ephemeral (named, removed `REPLAY_INACTIVE_MS` after its owner stops
 * pulling), explicit ack, starting after `startAfter` (0 = the whole stream), filtered on the
 * pattern. `replicas` = the stream's: its state then survives the loss of the node leading it
 * (nats-server 2.9 makes ephemerals R1 unless asked).
 */
export function replayConsumerConfig(o: JsOptions, pattern: string, name: string, maxAckPending: number, startAfter: number, replicas: number): Partial<ConsumerConfig> {
  const config: Partial<ConsumerConfig> = {
    name,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: startAfter === 0 ? DeliverPolicy.All : DeliverPolicy.StartSequence,
    filter_subject: pattern,
    max_ack_pending: maxAckPending,
    ack_wait: nanos(o.ackWaitMs),
    max_deliver: -1,
    inactive_threshold: nanos(REPLAY_INACTIVE_MS),
    num_replicas: replicas,
  };
  if (startAfter > 0) config.opt_start_seq = startAfter + 1;
  return config;
}

/** Creates the consumer, or uses the one a group member made before (whatever its limits). */
export async function ensureConsumer(jsm: JetStreamManager, stream: string, config: Partial<ConsumerConfig>): Promise<void> {
  const name = (config.durable_name ?? config.name)!;
  try {
    await jsm.consumers.add(stream, config);
  } catch (err) {
    try {
      await jsm.consumers.info(stream, name);
    } catch {
      const e = fromNatsError(err, `creating consumer ${name} on stream ${stream} for ${config.filter_subject}`);
      if (/filter subject|subset/i.test((err as Error).message)) {
        throw new OptionsInvalidError(`pattern ${config.filter_subject} is not within the subjects of stream ${stream}`, { cause: err, details: { field: 'jetstream.subjects' } });
      }
      throw e;
    }
  }
}
