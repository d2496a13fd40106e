#!/usr/bin/env node
/**
 * The `signalbus` command. Each subcommand lives in cli/commands/ and is loaded on use.
 * Errors print one clear line on stderr and exit non-zero (2 for usage errors).
 */
import { readFileSync } from 'node:fs';
import { SignalbusError } from '../core/index.js';
import { explainCliError, UsageError } from './errors.js';

interface Command { summary: string; help: () => Promise<string>; run: (argv: string[]) => Promise<number> }

const commands: Record<string, Command> = {
  pub: { summary: 'publish one event', help: async () => (await import('./commands/pub.js')).pubHelp, run: async (a) => (await import('./commands/pub.js')).pub(a) },
  sub: { summary: 'print events matching a pattern', help: async () => (await import('./commands/sub.js')).subHelp, run: async (a) => (await import('./commands/sub.js')).sub(a) },
  lint: { summary: 'check a pipeline file before running it', help: async () => (await import('./commands/lint.js')).lintHelp, run: async (a) => (await import('./commands/lint.js')).lint(a) },
  run: { summary: 'run the nanoservices a pipeline file describes', help: async () => (await import('./commands/run.js')).runHelp, run: async (a) => (await import('./commands/run.js')).run(a) },
  status: { summary: 'who owns which partitions of scaled pipelines', help: async () => (await import('./commands/status.js')).statusHelp, run: async (a) => (await import('./commands/status.js')).status(a) },
  metrics: { summary: 'tail metric fields', help: async () => (await import('./commands/metrics.js')).metricsHelp, run: async (a) => (await import('./commands/metrics.js')).metrics(a) },
  contracts: {
    summary: 'diff two schemas or check every contract version chain',
    help: async () => contractsHelp,
    run: async (a) => (await import('../contracts/cli.js')).runContractsCommand(a),
  },
  asyncapi: {
    summary: 'write an AsyncAPI 3.0 document of the contracts and services',
    help: async () => asyncapiHelp,
    run: async (a) => {
      const [{ runAsyncapiCommand }, { readPipelineForAsyncApi }] = await Promise.all([import('../contracts/cli.js'), import('./pipeline/asyncapi.js')]);
      return runAsyncapiCommand(a, undefined, readPipelineForAsyncApi);
    },
  },
  test: { summary: 'test a pipeline against cases, on memory with a virtual clock', help: async () => (await import('./commands/test.js')).testHelp, run: async (a) => (await import('./commands/test.js')).test(a) },
  demo: { summary: 'run the demo pipeline on embedded defaults', help: async () => (await import('./commands/demo.js')).demoHelp, run: async (a) => (await import('./commands/demo.js')).demo(a) },
};

const contractsHelp = `signalbus contracts diff <old-schema-file> <new-schema-file> [--mode backward]
  exits 0 when compatible, 1 when breaking (one change per line), 2 on unusable input
signalbus contracts check [--dir contracts/schemas] [--against <dir or git ref>] [--mode …]
  checks every contract's version chain (and against a baseline)
Modes: backward, forward, full, none, backward_transitive, forward_transitive, full_transitive`;

const asyncapiHelp = `signalbus asyncapi [--pipeline pipeline.json] [--out file] [--dir contracts/schemas]... [--services services.json] [--server name=url]... [--title t] [--version v]
  writes an AsyncAPI 3.0 document (JSON; stdout without --out) of servers, channels, operations and messages
  --pipeline   every service of the pipeline: receive on its input, send on its output, on dlq.<input>
               (dead letters) and on signalbus.metrics.<service> (metric.field); transports become servers
               (mqtt, amqp, nats, http, ws), routes place each channel; templates like sensor.reading.{deviceId}
               and patterns (* and >) become addresses with parameters, x-signalbus-subject keeps the original
  --dir        more contract directories (the pipeline's contracts.dirs are added); contracts become messages
               with their JSON Schema payload and CloudEvents headers
  --services   services described by hand (JSON), added to the pipeline's
  exits 2 on unusable input (an SB_ERR_* code on stderr)`;

const usage = `signalbus — nanoservices over any transport

Usage: signalbus <command> [options]     (signalbus <command> --help for more)
       signalbus --version

Commands:
${Object.entries(commands).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`).join('\n')}

Transport URLs: memory://  nats://host:4222  mqtt://host:1883 (MQTT 5; 3.1.1: ?protocolVersion=4)
                amqp://user:pass@host:5672  http://host:port  ws://host:port`;

/** The package's version: package.json sits one level above cli/ in the sources, two above dist/cli/. */
function version(): string {
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'signalbus' && pkg.version) return pkg.version;
    } catch { /* not there: try the next */ }
  }
  return 'unknown';
}

/** Which option or URL moves a port a command listens on (the message of a port in use). */
function portHint(command: string | undefined, args: string[], port: number | undefined): string {
  const flag = (name: string) => {
    const i = args.indexOf(name);
    const value = i >= 0 ? args[i + 1] : args.find((a) => a.startsWith(`${name}=`))?.slice(name.length + 1);
    return value !== undefined ? Number(value) : undefined;
  };
  if (command === 'demo') {
    const mqttPort = flag('--mqtt-port') ?? 18830;
    return port === mqttPort ? 'move the embedded MQTT broker with --mqtt-port <port>' : 'move the HTTP gateway with --http-port <port>';
  }
  if (command === 'sub') return 'host at another port in the URL (http://127.0.0.1:<port>, ws://127.0.0.1:<port>)';
  if (command === 'run') return 'change the port in the pipeline file (embedded, transports)';
  return 'stop the other process or choose another port';
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') { console.log(usage); return 0; }
  if (name === '--version' || name === '-v' || name === 'version') { console.log(version()); return 0; }
  if (name.startsWith('-')) throw new UsageError(`unknown option ${name}; see signalbus --help`);
  const command = commands[name];
  if (!command) throw new UsageError(`unknown command "${name}"; try signalbus --help`);
  if (rest.includes('--help') || rest.includes('-h')) { console.log(await command.help()); return 0; }
  return command.run(rest);
}

const argv = process.argv.slice(2);
main(argv).then((code) => process.exit(code), (thrown: unknown) => {
  const command = argv[0] !== undefined && argv[0] in commands ? argv[0] : undefined;
  const err = explainCliError(thrown, command, (port) => portHint(command, argv.slice(1), port), argv.slice(1));
  const code = err instanceof SignalbusError ? ` [${err.code}]` : '';
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`signalbus: ${message}${code}\n`);
  // SIGNALBUS_DEBUG=1: where it came from too (a report of a failure nobody can reproduce).
  if (process.env.SIGNALBUS_DEBUG && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  process.exit(err instanceof UsageError ? 2 : 1);
});
