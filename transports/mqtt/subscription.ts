/**
 * What the transport keeps of one subscription: its MQTT 5 subscription identifier, its topic
 * filters (local and as sent to the broker, `$share/<group>/…` for groups), the connection it
 * lives on (its own, for a persistent session).
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
  readonly connection: MqttConnection;
  /** Stays true while messages may be handed over. */
  active: boolean;
}
