import { watch, writeFileSync, type FSWatcher } from 'node:fs';
import { parseArgs } from 'node:util';
import { createLogger, SignalbusError, type LogLevel } from '../../core/index.js';
import { OutputWriteError, UsageError } from '../errors.js';
import { PipelineInvalidError } from '../pipeline/load.js';
import { PipelineTestInvalidError } from '../pipeline-test/errors.js';
import { formatJunit, formatReport } from '../pipeline-test/report.js';
import { runPipelineTests } from '../pipeline-test/runner.js';

export const testHelp = `signalbus test <pipeline.json> [test files…] [case names…] [--junit report.xml] [--watch]

Runs the pipeline's nanoservices against the cases of a test file, on one in-process memory
broker with a virtual clock: no broker, no real waiting (windows close and idle timeouts elapse
when a case advances the clock). Default test file: next to the pipeline, pipeline.test.json.
Arguments ending in .json are test files; others keep only the cases whose name contains them.

Each case: "input" (messages in order: subject, data or raw, type, headers, and an event time
"at" (ms after the case's start) or "ts" (epoch ms), or { "advance": ms }), "advance" (ms, after
the input), "expect" (outputs by subject pattern, type, a subset of data with matchers $gt $gte
$lt $lte $regex $exists $ne, and "count": n or { min, max }; default at least one),
"expectNone", "deadLetters" (reason, subject, service, count: every dead letter must be listed)
and "metrics" (a field "filter:sensor.reading rejected dropped" or its parts, and a count).
Sinks are not run; what they would store stays visible as outputs.

Exit 0 when every case passes, 1 when one fails (with a diff: expected against got, the closest
output when nothing matched), 2 when the pipeline or test file is unusable (the JSON path named)
or no case matches the case names given, 1 (SB_ERR_CLI_OUTPUT) when the --junit file cannot be written.

--junit <file>  also write a JUnit XML report (CI systems)
--watch         run again whenever the pipeline or a test file changes (Ctrl-C stops)
--log-level     the services' log level (default silent)

Example:
  signalbus test examples/iot-mqtt/pipeline.json`;

/** The default test file of a pipeline: `x/pipeline.json` → `x/pipeline.test.json`. */
export function defaultTestFile(pipelineFile: string): string {
  return pipelineFile.endsWith('.json') ? `${pipelineFile.slice(0, -'.json'.length)}.test.json` : `${pipelineFile}.test.json`;
}

export async function test(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true,
    options: { junit: { type: 'string' }, watch: { type: 'boolean' }, 'log-level': { type: 'string' } },
  });
  const [pipelineFile, ...rest] = positionals;
  if (!pipelineFile) throw new UsageError('usage: signalbus test <pipeline.json> [test files…] [case names…] (see signalbus test --help)');
  const level = (values['log-level'] ?? 'silent') as LogLevel;
  if (!['debug', 'info', 'warn', 'error', 'silent'].includes(level)) throw new UsageError(`--log-level must be debug, info, warn, error or silent, got "${level}"`);
  const testFiles = rest.filter((a) => a.endsWith('.json'));
  const filters = rest.filter((a) => !a.endsWith('.json'));
  if (testFiles.length === 0) testFiles.push(defaultTestFile(pipelineFile));
  const logger = createLogger({ level });

  const once = async (): Promise<number> => {
    try {
      const run = await runPipelineTests(pipelineFile, testFiles, { filters, logger });
      process.stdout.write(formatReport(run));
      if (values.junit) {
        try { writeFileSync(values.junit, formatJunit(run)); } catch (cause) {
          throw new OutputWriteError(`--junit ${values.junit}: cannot write: ${(cause as Error).message}`, { cause });
        }
      }
      if (run.results.length === 0) throw new UsageError(`no case matched ${filters.join(', ')}; see the case names in the test files`);
      return run.results.every((r) => r.passed) ? 0 : 1;
    } catch (err) {
      // An unusable file: one line naming the path, exit 2 (in watch mode: wait for the fix).
      if (err instanceof PipelineTestInvalidError || err instanceof PipelineInvalidError || err instanceof UsageError) {
        process.stderr.write(`signalbus: ${err.message} [${(err as SignalbusError).code}]\n`);
        return 2;
      }
      if (err instanceof OutputWriteError) {
        process.stderr.write(`signalbus: ${err.message} [${err.code}]\n`);
        return 1;
      }
      throw err;
    }
  };

  const first = await once();
  if (!values.watch) return first;
  return watchAndRerun([pipelineFile, ...testFiles], once);
}

/** Runs `once` again after each change of `files` (changes within 100 ms are one), until SIGINT/SIGTERM. */
function watchAndRerun(files: string[], once: () => Promise<number>): Promise<number> {
  return new Promise<number>((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    let running: Promise<unknown> = Promise.resolve();
    const rerun = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        running = running.then(async () => {
          process.stdout.write(`\n— ${new Date().toISOString()} change seen, running again\n`);
          await once();
        }).catch((err: unknown) => process.stderr.write(`signalbus: ${(err as Error).message}\n`));
      }, 100);
    };
    // An editor that saves by rename replaces the file: watch it again each time.
    const watchers = new Map<string, FSWatcher>();
    const watchFile = (f: string) => {
      watchers.get(f)?.close();
      try {
        watchers.set(f, watch(f, (event) => { rerun(); if (event === 'rename') setTimeout(() => watchFile(f), 50); }));
      } catch { setTimeout(() => watchFile(f), 200); }
    };
    files.forEach(watchFile);
    process.stderr.write(`watching ${files.join(', ')} (Ctrl-C stops)\n`);
    const stop = () => { clearTimeout(timer); for (const w of watchers.values()) w.close(); resolve(0); };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
