import { parseArgs } from 'node:util';
import { nanoserviceConfigSchemas } from '../../nanoservices/index.js';
import { UsageError } from '../errors.js';
import { formatFinding, lintPipelineFile } from '../pipeline/lint.js';

export const lintHelp = `signalbus lint <pipeline.json> [--json]

Finds before a start what signalbus run would find only at run time: the file's shape and each
service's config (a misspelled property gets a did-you-mean, an enum lists its values), field
paths (filter predicates, key, time, aggregate and alert fields, output placeholders) resolved
against the contract of the subject each service reads, contracts that are not registered,
subscriptions routed to a transport that cannot carry them (a wildcard without wildcards, a group
without groups, a scaled input where its coordination cannot replay or share it), and, as
warnings, input no service produces and output nobody consumes.
signalbus run lints first and refuses to start on an error.

Output: one line per finding, "error|warning <JSON path>: message"; --json prints
{ "file", "errors", "warnings", "findings": [{ "severity", "path", "message" }] } instead.
Exit status: 1 when there is an error, else 0 (warnings alone pass).

Example:
  signalbus lint examples/iot-mqtt/pipeline.json`;

export async function lint(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { json: { type: 'boolean' } } });
  const [file] = positionals;
  if (!file || positionals.length > 1) throw new UsageError('usage: signalbus lint <pipeline.json> [--json] (see signalbus lint --help)');
  const { findings } = await lintPipelineFile(file, { kinds: nanoserviceConfigSchemas });
  const errors = findings.filter((f) => f.severity === 'error').length;
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ file, errors, warnings: findings.length - errors, findings }, null, 2)}\n`);
  } else {
    for (const f of findings) process.stdout.write(`${formatFinding(f)}\n`);
    process.stderr.write(`${file}: ${errors} error${errors === 1 ? '' : 's'}, ${findings.length - errors} warning${findings.length - errors === 1 ? '' : 's'}\n`);
  }
  return errors > 0 ? 1 : 0;
}
