/**
 * The small HTTP client the transport and the webhook sender share: one keep-alive agent per
 * target, whole-body requests with a timeout, and long-lived GETs for event streams.
 *
 * @example
 * const client = new HttpClient(new URL('http://127.0.0.1:8080'), { maxSockets: 64 });
 * const answer = await client.send('POST', '/v1/events/a.b', headers, body, 10_000);
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { TransportConnectError, type ResolvedTlsOptions } from '../../core/index.js';

export interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** Network failures worth retrying: the request may not have reached the server, or its answer got lost. */
export class HttpNetworkError extends TransportConnectError {}

export class HttpClient {
  readonly agent: HttpAgent;
  private readonly secure: boolean;
  private readonly basePath: string;
  private readonly hostname: string;
  private readonly port: string | number;

  constructor(readonly base: URL, options: { maxSockets: number; tls?: ResolvedTlsOptions }) {
    this.secure = base.protocol === 'https:';
    const agentOptions = { keepAlive: true, maxSockets: options.maxSockets, maxFreeSockets: options.maxSockets, scheduling: 'lifo' as const };
    this.agent = this.secure
      ? new HttpsAgent({ ...agentOptions, ...options.tls })
      : new HttpAgent(agentOptions);
    this.basePath = base.pathname.endsWith('/') ? base.pathname.slice(0, -1) : base.pathname;
    this.hostname = base.hostname.replace(/^\[|\]$/g, '');
    this.port = base.port || (this.secure ? 443 : 80);
  }

  /** Sends a request and reads the whole answer. Rejects with HttpNetworkError on network failures and timeouts. */
  send(method: string, path: string, headers: OutgoingHttpHeaders, body: Uint8Array | undefined, timeoutMs: number): Promise<HttpAnswer> {
    return new Promise((resolve, reject) => {
      const req = this.open(method, path, headers);
      // One timer for the whole exchange: a socket timeout (`req.setTimeout`) re-arms listeners and
      // timers on the pooled socket for every request, which costs more than the request's own work.
      const timer = setTimeout(() => {
        req.destroy(new HttpNetworkError(`no answer from ${this.base.host} within ${timeoutMs} ms`, { details: { timeoutMs, timeout: true } }));
      }, timeoutMs);
      req.on('error', (err) => {
        clearTimeout(timer);
        reject(err instanceof HttpNetworkError ? err : new HttpNetworkError(`${method} ${this.base.host}${path} failed: ${err.message}`, { cause: err }));
      });
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks) });
        });
        res.on('error', (err) => {
          clearTimeout(timer);
          reject(new HttpNetworkError(`answer from ${this.base.host} broke off: ${err.message}`, { cause: err }));
        });
      });
      req.end(body);
    });
  }

  /** Opens a long-lived GET and resolves with the response once its headers are in. */
  get(path: string, headers: OutgoingHttpHeaders, signal: AbortSignal): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const req = this.open('GET', path, headers, signal);
      req.on('error', (err) => reject(new HttpNetworkError(`GET ${this.base.host}${path} failed: ${err.message}`, { cause: err })));
      req.on('response', resolve);
      req.end();
    });
  }

  destroy(): void { this.agent.destroy(); }

  private open(method: string, path: string, headers: OutgoingHttpHeaders, signal?: AbortSignal) {
    const options = {
      method, agent: this.agent, headers, signal,
      hostname: this.hostname, port: this.port, path: this.basePath + path,
    };
    return this.secure ? httpsRequest(options) : httpRequest(options);
  }
}
