import { connect, NatsError, type ConnectionOptions, type KV, type NatsConnection } from 'nats';
import { OptionsInvalidError, RequestTimeoutError } from '../core/index.js';
import { fromConnectError, fromNatsError } from '../transports/nats/errors.js';
import { assertKey, assertPrefix, type LeaseEntry, type LeaseStore } from './lease-store.js';
import { fencedError, type CheckpointRecord, type PartitionCheckpoints } from './partition-checkpoints.js';

export interface NatsCoordinationOptions {
  /** NATS server URL(s), e.g. `nats://127.0.0.1:4222`. Ignored when `connection` or `connectionOptions` is given. */
  servers?: string | string[];
  /**
   * nats.js connection options (servers, credentials, TLS), e.g. from the transport's
   * `natsConnectionOptions`: credentials as options apply to every server of a cluster list.
   */
  connectionOptions?: ConnectionOptions;
  /** Prefix of the two KV buckets, `<name>-leases` and `<name>-checkpoints`. Default `signalbus`. */
  name?: string;
  /** Replicas of both buckets: 1 on a single server, 3 on a cluster. Default 1. */
  replicas?: number;
  /** Lease lifetime without renewal (the leases bucket's TTL), ms. Default 5000. */
  leaseTtlMs?: number;
  /** An open connection to reuse instead of connecting; `close()` then leaves it open. */
  connection?: NatsConnection;
}

const DEFAULTS = { name: 'signalbus', replicas: 1, leaseTtlMs: 5000 } as const;
const BUCKET_NAME = /^[-\w]+$/;
// JetStream's "wrong last sequence": the compare-and-set on revision did not hold.
const WRONG_LAST_SEQUENCE = 10071;
/** How long opening the buckets keeps trying while JetStream is busy or electing leaders, ms. */
const OPEN_TIMEOUT_MS = 30_000;
/** Longest a key listing may take, ms. */
const LIST_TIMEOUT_MS = 3000;

/**
 * Leases and checkpoints in JetStream KV: what N instances of a pipeline coordinate through.
 * Buckets are created when missing (with the TTL, history and replicas below; an existing bucket
 * keeps its own settings).
 *
 * @example
 * const coord = await NatsCoordination.open({ servers: 'nats://127.0.0.1:4222', leaseTtlMs: 5000 });
 * const pc = new PartitionCoordinator({ store: coord.leases, group: 'iot.aggregate', member, partitions: 16, … });
 * … await pc.stop(); await coord.close();
 */
export class NatsCoordination {
  private constructor(
    private readonly nc: NatsConnection,
    private readonly ownConnection: boolean,
    readonly leases: LeaseStore,
    readonly checkpoints: PartitionCheckpoints,
  ) {}

  static async open(options: NatsCoordinationOptions): Promise<NatsCoordination> {
    const name = options.name ?? DEFAULTS.name;
    const replicas = options.replicas ?? DEFAULTS.replicas;
    const ttl = options.leaseTtlMs ?? DEFAULTS.leaseTtlMs;
    if (!BUCKET_NAME.test(name)) throw new OptionsInvalidError(`name "${name}" may hold only letters, digits, "-" and "_" (it prefixes KV bucket names)`, { details: { field: 'name' } });
    if (!Number.isInteger(replicas) || replicas < 1 || replicas > 5) throw new OptionsInvalidError(`replicas must be an integer from 1 to 5, got ${replicas}`, { details: { field: 'replicas' } });
    // JetStream keeps max_age in ns but checks expiry on a coarse timer: below ~100 ms a TTL means nothing.
    if (!Number.isInteger(ttl) || ttl < 100) throw new OptionsInvalidError(`leaseTtlMs must be an integer >= 100, got ${ttl}`, { details: { field: 'leaseTtlMs' } });

    let nc = options.connection;
    if (!nc) {
      try {
        const base = options.connectionOptions ?? { servers: options.servers };
        nc = await connect({ ...base, noAsyncTraces: true, name: `${name}-coordination`, maxReconnectAttempts: -1 });
      } catch (cause) {
        throw fromConnectError(cause, `connecting to ${String(options.connectionOptions?.servers ?? options.servers)} for coordination`);
      }
    }
    const js = nc.jetstream();
    // Instances starting together on a fresh cluster all create the replicated buckets at once;
    // JetStream answers late or not at all (503) until the buckets have leaders. A timeout or no
    // responders is tried again for a while; anything else fails at once.
    const deadline = Date.now() + OPEN_TIMEOUT_MS;
    for (let attempt = 1; ; attempt++) {
      try {
        const leases = await js.views.kv(`${name}-leases`, { ttl, history: 1, replicas });
        const checkpoints = await js.views.kv(`${name}-checkpoints`, { history: 1, replicas });
        return new NatsCoordination(nc, !options.connection, new NatsLeaseStore(leases, ttl), new KvPartitionCheckpoints(checkpoints));
      } catch (cause) {
        const code = (cause as { code?: string }).code;
        if ((code === 'TIMEOUT' || code === '503') && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, Math.min(2000, 100 * 2 ** attempt)));
          continue;
        }
        if (!options.connection) await nc.close();
        throw fromNatsError(cause, `opening KV buckets ${name}-leases and ${name}-checkpoints (is JetStream enabled?)`);
      }
    }
  }

  /** Closes the connection when this object opened it. Idempotent. */
  async close(): Promise<void> {
    if (this.ownConnection && !this.nc.isClosed()) await this.nc.close();
  }
}

/**
 * A LeaseStore on one KV bucket whose TTL (max_age) is the lease TTL: an entry not rewritten
 * within ttlMs is removed by the server, after which `create` succeeds and an `update` at the old
 * revision fails (verified on nats-server 2.9.10). Revisions are stream sequences.
 */
export class NatsLeaseStore implements LeaseStore {
  constructor(private readonly kv: KV, readonly ttlMs: number) {}

  async get(key: string): Promise<LeaseEntry | undefined> {
    assertKey(key);
    const e = await kvCall(() => this.kv.get(key), `reading lease ${key}`);
    // A deleted key keeps a DEL marker until it expires: that is "absent".
    return e && e.operation === 'PUT' ? { key, value: e.string(), revision: e.revision } : undefined;
  }

  async create(key: string, value: string): Promise<number | undefined> {
    assertKey(key);
    return casCall(() => this.kv.create(key, value), `creating lease ${key}`);
  }

  async update(key: string, value: string, revision: number): Promise<number | undefined> {
    assertKey(key);
    if (!(revision > 0)) return undefined; // nats.js throws on 0; no stored entry has it
    return casCall(() => this.kv.update(key, value, revision), `renewing lease ${key}`);
  }

  async delete(key: string, revision?: number): Promise<boolean> {
    assertKey(key);
    const done = await casCall(async () => { await this.kv.delete(key, revision === undefined ? undefined : { previousSeq: revision }); return true; }, `deleting lease ${key}`);
    return done === true;
  }

  async list(prefix: string): Promise<LeaseEntry[]> {
    const keys = await listKeys(this.kv, prefix);
    const out: LeaseEntry[] = [];
    for (const key of keys) {
      const e = await this.get(key);
      if (e) out.push(e); // it may have expired since it was listed
    }
    return out;
  }
}

/**
 * PartitionCheckpoints in a KV bucket without TTL, history 1. `save` at revision 0 is a KV create
 * (which also succeeds over a deleted key), otherwise an update at that revision.
 */
export class KvPartitionCheckpoints implements PartitionCheckpoints {
  constructor(private readonly kv: KV) {}

  async load(name: string): Promise<{ record: CheckpointRecord | undefined; revision: number }> {
    assertKey(name, 'name');
    const e = await kvCall(() => this.kv.get(name), `loading checkpoint ${name}`);
    if (!e || e.operation !== 'PUT') return { record: undefined, revision: 0 };
    return { record: e.json<CheckpointRecord>(), revision: e.revision };
  }

  async save(name: string, record: CheckpointRecord, revision: number): Promise<number> {
    assertKey(name, 'name');
    const body = JSON.stringify(record);
    const next = await casCall(
      () => (revision === 0 ? this.kv.create(name, body) : this.kv.update(name, body, revision)),
      `saving checkpoint ${name}`,
    );
    if (next === undefined) throw fencedError(name, revision);
    return next;
  }

  async list(prefix: string): Promise<Array<{ name: string; record: CheckpointRecord; revision: number }>> {
    const out: Array<{ name: string; record: CheckpointRecord; revision: number }> = [];
    for (const name of await listKeys(this.kv, prefix)) {
      const { record, revision } = await this.load(name);
      if (record) out.push({ name, record, revision });
    }
    return out;
  }
}

/** Keys starting with `prefix`: the server filters on whole tokens (`a.b.>`), the rest is filtered here. */
async function listKeys(kv: KV, prefix: string): Promise<string[]> {
  assertPrefix(prefix);
  const tokens = prefix.slice(0, prefix.lastIndexOf('.') + 1);
  const filter = tokens === '' ? '>' : `${tokens}>`;
  return kvCall(async () => {
    // A key written while the listing runs can come twice (the listing reads a stream).
    const keys = new Set<string>();
    const listing = await kv.keys(filter);
    // nats.js ends a listing only when its consumer reports nothing pending: while the cluster
    // fails over that can take forever, and a lease round must not wait that long.
    const timer = setTimeout(() => listing.stop(new RequestTimeoutError(`listing keys ${prefix}* took over ${LIST_TIMEOUT_MS} ms`)), LIST_TIMEOUT_MS);
    try {
      for await (const key of listing) if (key.startsWith(prefix)) keys.add(key);
    } finally {
      clearTimeout(timer);
    }
    return [...keys];
  }, `listing keys ${prefix}*`);
}

async function kvCall<T>(op: () => Promise<T>, context: string): Promise<T> {
  try {
    return await op();
  } catch (err) {
    throw fromNatsError(err, context);
  }
}

/** A compare-and-set write: a revision mismatch is `undefined`, any other failure a typed error. */
async function casCall<T>(op: () => Promise<T>, context: string): Promise<T | undefined> {
  try {
    return await op();
  } catch (err) {
    if (err instanceof NatsError && err.api_error?.err_code === WRONG_LAST_SEQUENCE) return undefined;
    throw fromNatsError(err, context);
  }
}
