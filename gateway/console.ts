/**
 * The web console a gateway serves at `/`: static files (gateway/console/, plain ES modules, no
 * build step) and two JSON routes that honour the gateway's auth like every other route:
 *
 * - `GET /v1/console/session`: whether the caller's credentials pass (always 200, so the page can
 *   ask for a token): `{ authenticated, tenant, principal }` or `{ authenticated: false, status, code, detail }`;
 * - `GET /v1/console/snapshot`: what the caller may see now (`ConsoleSnapshot`);
 * - `GET /v1/console/stream`: Server-Sent Events, `event: snapshot` with the same JSON, sent when
 *   something changed and at most once per `pushIntervalMs`.
 *
 * The browser never receives events one by one: the gateway subscribes to metric batches, alerts
 * and dead letters itself, keeps a bounded summary (`ConsoleState`) and sends that, so a page stays
 * usable whatever the event rate.
 *
 * @example
 * const gateway = new HttpGateway({ bus, port: 8080, console: { pipeline } }); // http://127.0.0.1:8080/
 */
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  BackpressureError, DEFAULT_HEADER_LIMITS, defaultCodecs, inboundProblem, type Bus, type HeaderLimits, type InboundMessage, type MetricBatch, type TransportSubscription,
} from '../core/index.js';
import type { AuthResult } from '../auth/authenticator.js';
import { problemOf } from '../transports/http/problem.js';
import { ConsoleState, type ConsolePipeline } from './console-state.js';

export * from './console-state.js';

export interface ConsoleOptions {
  /** The pipeline drawn as a graph (`signalbus run` passes its own). Default: no graph. */
  pipeline?: ConsolePipeline;
  /** Scale-out: the partitions each member (`<service>@<instance>`) holds now. Default: none shown. */
  ownership?: () => Map<string, number[]> | Record<string, number[]>;
  /** Where metric batches, alerts and dead letters are read. Defaults `signalbus.metrics.>`, `alerts.>`, `dlq.>`. */
  subjects?: { metrics?: string; alerts?: string; deadLetters?: string };
  /** Shortest time between two snapshots on a console stream, ms. Default 1000. */
  pushIntervalMs?: number;
  /** Open console streams at most. Default 100. */
  maxStreams?: number;
}

const STATIC = new Map<string, { file: string; type: string }>([
  ['/', { file: 'index.html', type: 'text/html; charset=utf-8' }],
  ['/index.html', { file: 'index.html', type: 'text/html; charset=utf-8' }],
  ['/console/console.js', { file: 'console.js', type: 'text/javascript; charset=utf-8' }],
  ['/console/console.css', { file: 'console.css', type: 'text/css; charset=utf-8' }],
]);
/** Next to this module in the source and in dist/ (the build copies them). */
const STATIC_DIR = new URL('./console/', import.meta.url);
const SESSION_PATH = '/v1/console/session';
const SNAPSHOT_PATH = '/v1/console/snapshot';
const STREAM_PATH = '/v1/console/stream';
const decoder = new TextDecoder();

interface ConsoleStream { res: ServerResponse; who: AuthResult; sentVersion: number }

/**
 * Serves the console for one gateway; see the module comment. `HttpGateway` makes one when its
 * `console` option is on, starts it with the gateway and hands it the GET requests it does not
 * answer itself.
 *
 * @example
 * const gateway = new HttpGateway({ bus, console: { pipeline: { name: 'edge', services: [] } } });
 * await gateway.start();
 * gateway.console?.state.snapshot(undefined, {}).alerts.active; // what an operator sees now
 */
export class GatewayConsole {
  readonly state = new ConsoleState();
  private readonly subs: TransportSubscription[] = [];
  private readonly streams = new Set<ConsoleStream>();
  private readonly files = new Map<string, Buffer>();
  private timer?: NodeJS.Timeout;
  private heartbeats = 0;

  /** `limits`: the gateway's header limits; what the inbound rules refuse is not summarised, as the gateway's streams do not carry it. */
  constructor(private readonly bus: Bus, private readonly options: ConsoleOptions = {}, private readonly limits: HeaderLimits = DEFAULT_HEADER_LIMITS) {}

  /** Subscribes to what the console summarises. Call once the bus has started. */
  async start(): Promise<void> {
    const s = this.options.subjects ?? {};
    await this.subscribe(s.metrics ?? 'signalbus.metrics.>', (msg) => {
      const batch = decode(msg) as MetricBatch | undefined;
      if (batch) this.state.addMetrics(batch, tenantOf(msg));
    });
    await this.subscribe(s.alerts ?? 'alerts.>', (msg) => {
      const data = decode(msg) as Record<string, unknown> | undefined;
      if (data) this.state.addAlert(msg.envelope.type, data, msg.subject, tenantOf(msg));
    });
    await this.subscribe(s.deadLetters ?? 'dlq.>', (msg) => this.state.addDeadLetter(msg.subject, msg.envelope, tenantOf(msg)));
    this.timer = setInterval(() => this.push(), this.options.pushIntervalMs ?? 1000);
    this.timer.unref();
  }

  /** Ends the streams and the subscriptions. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    for (const s of this.streams) s.res.end();
    this.streams.clear();
    await Promise.all(this.subs.splice(0).map((s) => s.unsubscribe().catch(() => undefined)));
  }

  /**
   * Answers `req` when it is a console route (true), else leaves it to the gateway (false).
   * `identify` is the gateway's: credentials, rate limit, typed errors.
   */
  async route(req: IncomingMessage, res: ServerResponse, path: string, identify: () => AuthResult | Promise<AuthResult>): Promise<boolean> {
    const asset = STATIC.get(path);
    if (asset) {
      // The page and its code hold no data: it asks for a token before it reads anything.
      const body = await this.file(asset.file);
      res.writeHead(200, { 'content-type': asset.type, 'content-length': body.byteLength, 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' });
      res.end(req.method === 'HEAD' ? undefined : body);
      return true;
    }
    if (path === SESSION_PATH) {
      // Always 200, so the page learns that it needs a token without a failed request in its console.
      let session: Record<string, unknown>;
      try {
        const who = await identify();
        session = { authenticated: true, principal: who.principal, tenant: who.tenant ?? null };
      } catch (err) {
        const problem = problemOf(err);
        if (problem.status !== 401 && problem.status !== 403) throw err;
        session = { authenticated: false, status: problem.status, code: problem.code, detail: problem.detail };
      }
      this.json(req, res, session);
      return true;
    }
    if (path === SNAPSHOT_PATH) {
      this.json(req, res, this.snapshotFor(await identify()));
      return true;
    }
    if (path === STREAM_PATH && req.method === 'GET') {
      const who = await identify();
      const max = this.options.maxStreams ?? 100;
      if (this.streams.size >= max) throw new BackpressureError(`${this.streams.size} console streams are open, the most this gateway takes`, { details: { maxStreams: max } });
      const s: ConsoleStream = { res, who, sentVersion: -1 };
      this.streams.add(s);
      req.on('close', () => this.streams.delete(s));
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', 'x-accel-buffering': 'no' });
      this.send(s);
      return true;
    }
    return false;
  }

  private json(req: IncomingMessage, res: ServerResponse, value: unknown): void {
    const body = JSON.stringify(value);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  private snapshotFor(who: AuthResult) {
    const owned = this.options.ownership?.();
    const ownership = owned === undefined ? undefined : owned instanceof Map ? Object.fromEntries(owned) : owned;
    return this.state.snapshot(who, { ...(this.options.pipeline ? { pipeline: this.options.pipeline } : {}), ...(ownership && Object.keys(ownership).length > 0 ? { ownership } : {}) });
  }

  /** Sends each stream what changed since its last snapshot; a comment now and then keeps idle ones open. */
  private push(): void {
    const beat = ++this.heartbeats % 15 === 0;
    // What a caller sees depends on its tenant only: one snapshot per tenant per push, however many pages are open.
    const byTenant = new Map<string, string>();
    for (const s of this.streams) {
      if (s.sentVersion !== this.state.version) this.send(s, byTenant);
      else if (beat) s.res.write(': ping\n\n');
    }
  }

  private send(s: ConsoleStream, byTenant = new Map<string, string>()): void {
    // A client that has not read the last snapshots gets no more piled up behind them.
    if (s.res.writableLength > 1024 * 1024) { s.res.destroy(); this.streams.delete(s); return; }
    s.sentVersion = this.state.version;
    const key = s.who.tenant === undefined ? '' : `t:${s.who.tenant}`;
    let json = byTenant.get(key);
    if (json === undefined) { json = JSON.stringify(this.snapshotFor(s.who)); byTenant.set(key, json); }
    s.res.write(`event: snapshot\ndata: ${json}\n\n`);
  }

  private async subscribe(pattern: string, take: (msg: InboundMessage) => void): Promise<void> {
    // A relay like the gateway's streams: straight on the transport, so the console's reading is
    // no handler of the bus (no metric fields of its own, nothing dead-lettered again).
    const sub = await this.bus.transportFor(pattern).subscribe(pattern, (msg) => {
      try { if (msg.notCloudEvent === undefined && inboundProblem(msg.envelope, this.limits) === undefined) take(msg); } catch (err) {
        this.bus.logger.warn('console: an event could not be summarised', { subject: msg.subject, err });
      }
      return msg.ack();
    }, { maxInFlight: 1000 });
    this.subs.push(sub);
  }

  private async file(name: string): Promise<Buffer> {
    let body = this.files.get(name);
    if (!body) { body = await readFile(new URL(name, STATIC_DIR)); this.files.set(name, body); }
    return body;
  }
}

function tenantOf(msg: InboundMessage): string | undefined {
  return typeof msg.envelope.tenant === 'string' ? msg.envelope.tenant : undefined;
}

/** JSON data of an event, decoded here when the transport still holds it as bytes; undefined when it is not JSON. */
function decode(msg: InboundMessage): unknown {
  const data = msg.envelope.data;
  if (!(data instanceof Uint8Array)) return data;
  try {
    const type = msg.envelope.datacontenttype;
    return type === undefined || type.includes('json') ? JSON.parse(decoder.decode(data)) : defaultCodecs.get(type).decode(data, msg.envelope.type);
  } catch { return undefined; }
}
