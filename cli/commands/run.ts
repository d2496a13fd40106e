import { parseArgs } from 'node:util';
import { createLogger, type LogLevel } from '../../core/index.js';
import { nanoserviceConfigSchemas } from '../../nanoservices/index.js';
import { UsageError } from '../errors.js';
import { loadPipeline, PipelineInvalidError } from '../pipeline/load.js';
import { formatFinding, lintPipelineFile } from '../pipeline/lint.js';
import { startPipeline } from '../pipeline/run-pipeline.js';
import { untilStopped } from '../until-stopped.js';
import { parseDuration } from './demo.js';

export const runHelp = `signalbus run <pipeline.json> [--instance <id>] [--duration 30s] [--log-level info]

Starts the nanoservices and transports a pipeline file describes: transports by URL, routing
rules subject → transport, each service's kind and config, and optionally an embedded MQTT
broker and HTTP gateway. The file is linted first (see signalbus lint): an error stops the start,
each one naming the JSON path and what was expected; warnings are printed and the start goes on. Strings may use \${VAR} and \${VAR:-default} from the environment.
The embedded HTTP gateway serves the web console at / (its options: "console": false to turn it off).
Stops gracefully on SIGINT/SIGTERM (or after --duration).

--instance <id> (or SIGNALBUS_INSTANCE): this process' instance id ([A-Za-z0-9._-]+). With a
"scale" block in the file, every process of the same pipeline needs its own id (default:
host-pid); the processes then share the work by partition and take over each other's partitions.

Example:
  MQTT_URL=mqtt://127.0.0.1:1883 PG_URL=postgres://postgres@127.0.0.1:5432/test signalbus run examples/iot-mqtt/pipeline.json`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { duration: { type: 'string' }, 'log-level': { type: 'string' }, instance: { type: 'string' } } });
  const [file] = positionals;
  if (!file || positionals.length > 1) throw new UsageError('usage: signalbus run <pipeline.json> (see signalbus run --help)');
  const durationMs = values.duration === undefined ? Infinity : parseDuration(values.duration);
  const level = (values['log-level'] ?? process.env.SIGNALBUS_LOG_LEVEL ?? 'info') as LogLevel;
  if (!['debug', 'info', 'warn', 'error', 'silent'].includes(level)) throw new UsageError(`--log-level must be debug, info, warn, error or silent, got "${level}"`);
  const instance = values.instance ?? (process.env.SIGNALBUS_INSTANCE || undefined);
  if (instance !== undefined && !/^[A-Za-z0-9._-]+$/.test(instance)) throw new UsageError(`--instance must be letters, digits, ".", "_" or "-", got "${instance}"`);
  const logger = createLogger({ level });
  // Everything a run would find only while running, found before anything connects.
  const { findings } = await lintPipelineFile(file, { kinds: nanoserviceConfigSchemas });
  for (const f of findings) process.stderr.write(`${formatFinding(f)}\n`);
  const errors = findings.filter((f) => f.severity === 'error').length;
  if (errors > 0) {
    throw new PipelineInvalidError(`${file}: ${errors} lint error${errors === 1 ? '' : 's'} (above); the pipeline was not started`, { details: { file, errors } });
  }
  const pipeline = loadPipeline(file, nanoserviceConfigSchemas);
  const running = await startPipeline(pipeline, { logger, ...(instance !== undefined ? { instance } : {}) });
  logger.info('pipeline started', { pipeline: pipeline.name, services: [...running.buses.keys()], hosted: running.hosted });
  process.stderr.write(`pipeline ${pipeline.name} running: ${[...running.buses.keys()].join(', ')}\n`);
  await untilStopped({ durationMs });
  await running.stop();
  process.stderr.write(`pipeline ${pipeline.name} stopped\n`);
  return 0;
}
