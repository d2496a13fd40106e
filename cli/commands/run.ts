import { parseArgs } from 'node:util';
import { createLogger, type LogLevel } from '../../core/index.js';
import { nanoserviceConfigSchemas } from '../../nanoservices/index.js';
import { UsageError } from '../errors.js';
import { loadPipeline } from '../pipeline/load.js';
import { startPipeline } from '../pipeline/run-pipeline.js';
import { parseDuration } from './demo.js';

export const runHelp = `signalbus run <pipeline.json> [--duration 30s] [--log-level info]

Starts the nanoservices and transports a pipeline file describes: transports by URL, routing
rules subject → transport, each service's kind and config, and optionally an embedded MQTT
broker and HTTP gateway. The file is validated first; an error names the JSON path and what
was expected. Strings may use \${VAR} and \${VAR:-default} from the environment.
Stops gracefully on SIGINT/SIGTERM (or after --duration).

Example:
  MQTT_URL=mqtt://127.0.0.1:1883 signalbus run examples/iot-mqtt/pipeline.json`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { duration: { type: 'string' }, 'log-level': { type: 'string' } } });
  const [file] = positionals;
  if (!file || positionals.length > 1) throw new UsageError('usage: signalbus run <pipeline.json> (see signalbus run --help)');
  const durationMs = values.duration === undefined ? Infinity : parseDuration(values.duration);
  const level = (values['log-level'] ?? process.env.SIGNALBUS_LOG_LEVEL ?? 'info') as LogLevel;
  if (!['debug', 'info', 'warn', 'error', 'silent'].includes(level)) throw new UsageError(`--log-level must be debug, info, warn, error or silent, got "${level}"`);
  const logger = createLogger({ level });
  const pipeline = loadPipeline(file, nanoserviceConfigSchemas);
  const running = await startPipeline(pipeline, { logger });
  logger.info('pipeline started', { pipeline: pipeline.name, services: [...running.buses.keys()], hosted: running.hosted });
  process.stderr.write(`pipeline ${pipeline.name} running: ${[...running.buses.keys()].join(', ')}\n`);
  await new Promise<void>((resolve) => {
    if (Number.isFinite(durationMs)) setTimeout(resolve, durationMs);
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await running.stop();
  process.stderr.write(`pipeline ${pipeline.name} stopped\n`);
  return 0;
}
