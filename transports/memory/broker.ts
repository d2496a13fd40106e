import type { MemorySubscription } from './subscription.js';

/**
 * An in-process broker. Transports made on the same broker see each other's messages;
 * `memory://name` shares one broker per name within the process.
 */
export class MemoryBroker {
  private readonly subs: MemorySubscription[] = [];
  private readonly routeCache = new Map<string, { all: MemorySubscription[]; groups: Map<string, MemorySubscription[]> }>();
  private readonly roundRobin = new Map<string, number>();

  add(sub: MemorySubscription): void { this.subs.push(sub); this.routeCache.clear(); }

  remove(sub: MemorySubscription): void {
    const i = this.subs.indexOf(sub);
    if (i >= 0) this.subs.splice(i, 1);
    this.routeCache.clear();
  }

  /** The subscriptions one message on `subject` goes to: every ungrouped one and one per group. */
  route(subject: string): MemorySubscription[] {
    let r = this.routeCache.get(subject);
    if (!r) {
      r = { all: [], groups: new Map() };
      for (const s of this.subs) {
        if (!s.match(subject)) continue;
        if (s.group === undefined) r.all.push(s);
        else (r.groups.get(s.group) ?? r.groups.set(s.group, []).get(s.group)!).push(s);
      }
      if (this.routeCache.size > 10_000) this.routeCache.clear();
      this.routeCache.set(subject, r);
    }
    if (r.groups.size === 0) return r.all;
    const out = r.all.slice();
    for (const [group, members] of r.groups) {
      const n = (this.roundRobin.get(group) ?? 0) + 1;
      this.roundRobin.set(group, n);
      out.push(members[n % members.length]!);
    }
    return out;
  }
}

const brokers = new Map<string, MemoryBroker>();

/** The process-wide broker for a name (`memory://name`). */
export function namedBroker(name: string): MemoryBroker {
  let b = brokers.get(name);
  if (!b) { b = new MemoryBroker(); brokers.set(name, b); }
  return b;
}
