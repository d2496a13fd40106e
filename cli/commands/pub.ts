import { parseArgs } from 'node:util';
import { UsageError } from '../errors.js';
import { busFor } from '../connect.js';

export const pubHelp = `signalbus pub <transport-url> <subject> <json> [options]

Publishes one event whose data is <json>.

Options:
  --type <t>            CloudEvents type (default: the subject)
  --header <k=v>        extra attribute or extension, repeatable (e.g. --header tenant=acme)
  --id <id>             event id (default: a new UUID)
  --partition-key <k>   partition key
  --content-type <ct>   content type of the data (default application/json)

Examples:
  signalbus pub nats://127.0.0.1:4222 sensor.reading.berlin '{"temperature":21.5}' --type sensor.reading
  signalbus pub mqtt://127.0.0.1:1883 alerts.test '{"ok":true}' --header tenant=acme`;

export async function pub(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true,
    options: { type: { type: 'string' }, header: { type: 'string', multiple: true }, id: { type: 'string' },
      'partition-key': { type: 'string' }, 'content-type': { type: 'string' } },
  });
  const [url, subject, json] = positionals;
  if (!url || !subject || json === undefined || positionals.length > 3) throw new UsageError('usage: signalbus pub <transport-url> <subject> <json> (see signalbus pub --help)');
  let data: unknown;
  try { data = JSON.parse(json); } catch (cause) { throw new UsageError(`<json> is not valid JSON: ${(cause as Error).message}`, { cause }); }
  const headers: Record<string, string> = {};
  for (const h of values.header ?? []) {
    const eq = h.indexOf('=');
    if (eq <= 0) throw new UsageError(`--header "${h}" must be name=value`);
    headers[h.slice(0, eq)] = h.slice(eq + 1);
  }
  const { bus } = await busFor(url);
  try {
    const env = await bus.publish(subject, data, {
      headers, ...(values.type ? { type: values.type } : {}), ...(values.id ? { id: values.id } : {}),
      ...(values['partition-key'] ? { partitionKey: values['partition-key'] } : {}), ...(values['content-type'] ? { contentType: values['content-type'] } : {}),
    });
    process.stderr.write(`published ${env.id} to ${subject}\n`);
  } finally {
    await bus.stop();
  }
  return 0;
}
