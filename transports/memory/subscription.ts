import type { InboundHandler, SubjectMatcher, TransportSubscription } from '../../core/index.js';
import type { MemoryBroker } from './broker.js';

/**
 * One subscription on a memory broker. Stopping it (drain or unsubscribe: nothing is held, so
 * they are the same) takes it off the broker at once; a publish already routed to it skips it.
 */
export class MemorySubscription implements TransportSubscription {
  /** Stays true while messages may be handed over. */
  active = true;

  constructor(readonly pattern: string, readonly match: SubjectMatcher, readonly group: string | undefined,
    readonly handler: InboundHandler, private readonly broker: MemoryBroker, private readonly onStop: (sub: MemorySubscription) => void) {}

  async drain(): Promise<void> { this.stop(); }

  async unsubscribe(): Promise<void> { this.stop(); }

  /** Takes the subscription off its broker (idempotent). */
  stop(): void {
    if (!this.active) return;
    this.active = false;
    this.broker.remove(this);
    this.onStop(this);
  }
}
