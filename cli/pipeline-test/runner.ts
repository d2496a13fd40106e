import { createLogger, type Logger } from '../../core/index.js';
import { nanoserviceConfigSchemas } from '../../nanoservices/index.js';
import { loadPipeline } from '../pipeline/load.js';
import { PipelineHarness } from './harness.js';
import { loadTestFile } from './test-file.js';
import { verifyCase, type Failure } from './verify.js';

export interface CaseResult {
  file: string;
  name: string;
  passed: boolean;
  failures: Failure[];
  /** Real time the case took, ms. */
  durationMs: number;
  /** The case could not run at all (a service refused its config, the pipeline never settled). */
  error?: string;
}

export interface TestRun {
  pipeline: string;
  /** What the test run leaves out of the pipeline (sinks, scale, embedded brokers). */
  notes: string[];
  results: CaseResult[];
}

export interface RunOptions {
  /** Only cases whose name contains one of these. */
  filters?: string[];
  logger?: Logger;
}

/**
 * Runs every case of the test files against the pipeline, each on fresh services. Bad files
 * throw (PipelineInvalidError, PipelineTestInvalidError); a case that fails or cannot run is a
 * result, so one broken case does not hide the others.
 */
export async function runPipelineTests(pipelineFile: string, testFiles: string[], options: RunOptions = {}): Promise<TestRun> {
  const pipeline = loadPipeline(pipelineFile, nanoserviceConfigSchemas);
  const files = testFiles.map((f) => ({ file: f, test: loadTestFile(f) }));
  const logger = options.logger ?? createLogger({ level: 'silent' });
  const results: CaseResult[] = [];
  const notes = new Set<string>();
  for (const { file, test } of files) {
    const harness = new PipelineHarness(pipeline, { logger, ...(test.timeField ? { timeField: test.timeField } : {}) });
    harness.notes.forEach((n) => notes.add(n));
    for (const c of test.cases) {
      if (options.filters?.length && !options.filters.some((f) => c.name.includes(f))) continue;
      const began = performance.now();
      try {
        const run = await harness.run(c, test.startTs === undefined ? {} : { startTs: test.startTs });
        const failures = verifyCase(c, run);
        results.push({ file, name: c.name, passed: failures.length === 0, failures, durationMs: performance.now() - began });
      } catch (err) {
        const error = err instanceof Error ? `${err.message}${(err as { code?: string }).code ? ` [${(err as { code?: string }).code}]` : ''}` : String(err);
        results.push({ file, name: c.name, passed: false, failures: [], durationMs: performance.now() - began, error });
      }
    }
  }
  return { pipeline: pipelineFile, notes: [...notes], results };
}
