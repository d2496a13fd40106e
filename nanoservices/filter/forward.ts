import type { Envelope, PublishOptions } from '../../core/index.js';
import { versionOfDataschema } from '../ingest/naming.js';

// Attributes the Bus makes anew on every publish (or carries from the cause itself).
const REGENERATED = new Set([
  'specversion', 'id', 'source', 'type', 'time', 'datacontenttype', 'data', 'data_base64', 'traceparent', 'tracestate',
  'correlationid', 'causationid', 'tenant', 'partitionkey', 'dlqreason', 'dlqmessage', 'dlqattempts', 'dlqsubject', 'dlqservice',
]);

/**
 * Publish options that forward `message` unchanged in meaning: same type, contract version,
 * content type, partition key and extensions (the Bus adds causation, correlation and trace).
 */
export function forwardOptions(message: Envelope): PublishOptions {
  const options: PublishOptions = { type: message.type };
  if (message.partitionkey !== undefined) options.partitionKey = message.partitionkey;
  if (message.datacontenttype !== undefined) options.contentType = message.datacontenttype;
  const version = versionOfDataschema(message.dataschema);
  if (version !== undefined) options.version = version;
  let headers: Record<string, string> | undefined;
  for (const name in message) {
    if (REGENERATED.has(name)) continue;
    const v = message[name];
    if (typeof v === 'string') (headers ??= {})[name] = v;
  }
  // Frozen: V8 (Node 20) clones a frozen object into the envelope the Bus builds with fast
  // attribute stores; a plain fresh one costs ~10 µs per publish there.
  if (headers) options.headers = Object.freeze(headers);
  return options;
}
