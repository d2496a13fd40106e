import type { CodecRegistry } from './codec.js';
import { validateEnvelope, type Envelope } from './envelope.js';
import { CapabilityMissingError, RemoteHandlerError } from './errors.js';
import type { RequestOptions } from './handler.js';
import { ERROR_HEADERS, type HeaderLimits } from './headers.js';
import { inboundProblem, publishedUnder } from './inbound-envelope.js';
import { encodeFor, type Publisher } from './publisher.js';
import type { SubjectTable } from './subject-table.js';
import { validateSubject } from './subjects.js';
import type { Transport } from './transport.js';

/** What request/reply needs from the Bus' options. */
export interface RequesterSettings {
  codecs: CodecRegistry;
  headerLimits: HeaderLimits;
  requestTimeoutMs: number;
}

type RequestTransport = Transport & Required<Pick<Transport, 'request'>>;

/** Request/reply over transports that have it; a reply carrying an error code becomes a RemoteHandlerError. */
export class Requester {
  constructor(private readonly settings: RequesterSettings, private readonly subjects: SubjectTable, private readonly publisher: Publisher,
    private readonly start: () => Promise<void>) {}

  /** Sends a request built from `data` (caused by `cause`, if given); resolves with the reply, data decoded. */
  async request<R, T>(subject: string, data: T, options: RequestOptions, cause: Envelope | undefined): Promise<Envelope<R>> {
    validateSubject(subject);
    if (!this.publisher.started) await this.start();
    const transport = this.requestTransport(subject);
    const envelope = this.publisher.prepare(subject, data, options, cause, transport);
    const tracing = this.publisher.tracing;
    // Without tracing: no span and no extra promise on the request/reply path.
    const span = tracing?.startSend('request', subject, envelope, transport.name, cause ? cause.traceparent : options.headers?.traceparent, options.traceLinks);
    let reply: Envelope;
    try {
      // As `send`, inline: one promise less on every round trip.
      reply = await transport.request(subject, encodeFor(this.settings.codecs, transport, subject, envelope), { timeoutMs: options.timeoutMs ?? this.settings.requestTimeoutMs });
      this.subjects.entry(subject).published.add();
      // A reply is inbound input like any delivery: one its binding refused (a repeated or malformed
      // header, a JSON member named twice) or that breaks the envelope rules fails the request with
      // that error instead of handing the caller an event its readers could disagree on.
      const limits = this.settings.headerLimits;
      if (!publishedUnder(reply, limits)) {
        const problem = inboundProblem(reply, limits);
        if (problem !== undefined) throw problem;
      }
      const code = reply[ERROR_HEADERS.code];
      if (typeof code === 'string') {
        throw new RemoteHandlerError(String(reply[ERROR_HEADERS.message] ?? 'remote handler failed'), code);
      }
      if (reply.data instanceof Uint8Array && reply.datacontenttype !== 'application/octet-stream') {
        reply.data = this.settings.codecs.get(reply.datacontenttype).decode(reply.data, reply.type);
      }
    } catch (err) {
      if (span !== undefined) tracing!.endSend(span, err);
      throw err;
    }
    if (span !== undefined) tracing!.endSend(span);
    return reply as Envelope<R>;
  }

  /** Sends an envelope as it is; resolves with the reply exactly as the transport delivered it, error replies included. */
  async requestEnvelope(subject: string, envelope: Envelope, timeoutMs: number | undefined): Promise<Envelope> {
    validateSubject(subject);
    validateEnvelope(envelope, this.settings.headerLimits);
    this.publisher.checkTenant(subject, envelope);
    if (!this.publisher.started) await this.start();
    const transport = this.requestTransport(subject);
    return this.send(transport, subject, envelope, timeoutMs);
  }

  private requestTransport(subject: string): RequestTransport {
    const transport = this.subjects.transportFor(subject);
    if (!transport.request) throw new CapabilityMissingError(`transport ${transport.name} has no request/reply`, { details: { transport: transport.name } });
    return transport as RequestTransport;
  }

  private send(transport: RequestTransport, subject: string, envelope: Envelope, timeoutMs: number | undefined): Promise<Envelope> {
    const wire = encodeFor(this.settings.codecs, transport, subject, envelope);
    return transport.request(subject, wire, { timeoutMs: timeoutMs ?? this.settings.requestTimeoutMs }).then((reply) => {
      this.subjects.entry(subject).published.add();
      return reply;
    });
  }
}
