/**
 * What the transport keeps of one subscription: its MQTT 5 subscription identifier, its topic
 * filters (local and as sent to the broker, `$share/<group>/…` for groups), the connection it
 * lives on (its own, for a persistent session) and the bookkeeping of dropped non-CloudEvents.
 */
import type { InboundHandler } from '../../core/index.js';
import type { MqttConnection } from './connection.js';

export interface LocalSubscription {
  /** MQTT 5 subscription identifier: tells which subscription a message came through. */
  readonly id: number;
  readonly pattern: string;
  readonly filter: string;
  readonly brokerFilter: string;
  readonly handler: InboundHandler;
  readonly raw: boolean;
  readonly connection: MqttConnection;
  /** Stays true while messages may be handed over. */
  active: boolean;
  /** Messages that are not CloudEvents dropped since the last warning about them (this subscription is not raw). */
  droppedSinceWarning: number;
  /** When that warning was last logged (Date.now()), -Infinity before the first. */
  lastDropWarningAt: number;
}

/** Whether one of the subscriptions a message was routed to takes payloads that are not CloudEvents. */
export function reachesRaw(targets: LocalSubscription | LocalSubscription[]): boolean {
  return Array.isArray(targets) ? targets.some((s) => s.raw) : targets.raw;
}
