import { TransportPermissionError } from '../../core/index.js';

/**
 * RabbitMQ refuses what a user's permissions do not allow with a 403 that closes the channel:
 * `ACCESS_REFUSED - access to topic 'a.b' in exchange 'signalbus' in vhost '/' refused for user 'u'`
 * (topic permissions, by routing key), or `access to exchange|queue '…'` (configure, write, read).
 * A login refusal is a 403 too, but says nothing of "access to": that one is a TransportAuthError.
 */
const REFUSED = /ACCESS_REFUSED - access to (topic|exchange|queue) '([^']*)'(?: in exchange '([^']*)')?/;

export interface AccessRefusal {
  resource: 'topic' | 'exchange' | 'queue';
  /** The routing key (topic), exchange or queue name refused. */
  name: string;
  /** For a topic: its exchange. */
  exchange?: string;
  text: string;
}

/** The refusal an amqplib error carries, or undefined when it is no permission refusal. */
export function accessRefusal(err: unknown): AccessRefusal | undefined {
  if (!(err instanceof Error) || (err as { code?: unknown }).code !== 403) return undefined;
  const m = REFUSED.exec(err.message);
  if (!m) return undefined;
  const refusal: AccessRefusal = { resource: m[1] as AccessRefusal['resource'], name: m[2]!, text: err.message.slice(m.index) };
  if (m[3] !== undefined) refusal.exchange = m[3];
  return refusal;
}

/** A TransportPermissionError for `operation` on `subject`, naming what RabbitMQ refused. */
export function amqpPermissionError(refusal: AccessRefusal, operation: string, subject: string | undefined, cause: unknown): TransportPermissionError {
  const what = refusal.resource === 'topic' ? `routing key ${refusal.name} on exchange ${refusal.exchange}` : `${refusal.resource} ${refusal.name}`;
  return new TransportPermissionError(`RabbitMQ does not permit ${operation}${subject === undefined ? '' : ` ${subject}`} for these credentials (${what}): ${refusal.text}`, {
    cause, details: { operation, ...(subject === undefined ? {} : { subject }), resource: refusal.resource, name: refusal.name },
  });
}
