import { readFileSync } from 'node:fs';
import { Ajv2020, type ErrorObject } from 'ajv/dist/2020.js';
import { checkJsonDepth, compilePattern, MAX_JSON_DEPTH, parseMetricField } from '../../core/index.js';
import { jsonErrorLine } from '../errors.js';
import { PipelineTestInvalidError } from './errors.js';
import { checkMatcherSpec } from './matchers.js';

/** Default start of every case's clock and of `at` offsets: 2023-11-14T22:13:20Z, a multiple of any usual window size. */
export const DEFAULT_START_TS = 1_700_000_000_000;

/** One message fed to the pipeline. */
export interface TestInput {
  subject: string;
  /** JSON data: published as a CloudEvent (`type`, default the subject) carrying it. */
  data?: unknown;
  /** A payload as a device sends it (UTF-8 text, need not be JSON): published as raw bytes. */
  raw?: string;
  type?: string;
  headers?: Record<string, string>;
  /** Event time as an offset (ms) from the case's `startTs`; written into `data[timeField]` unless present. */
  at?: number;
  /** Event time as ms since the epoch. */
  ts?: number;
}

/** A step of a case's input: a message or a move of the virtual clock. */
export type TestStep = TestInput | { advance: number };

/** What outputs are picked by: subject (a pattern), type, a subset of data and headers. */
export interface OutputSelector {
  subject?: string;
  type?: string;
  data?: unknown;
  headers?: Record<string, unknown>;
}

/** How many: exactly n, or a range. */
export type CountSpec = number | { min?: number; max?: number };

export interface OutputExpectation extends OutputSelector { count?: CountSpec }

export interface DeadLetterExpectation {
  /** `dlqreason`: the error code, e.g. `SB_ERR_CODEC_DECODE`. */
  reason?: string;
  /** The subject the original was on (pattern). */
  subject?: string;
  /** `dlqservice`: the service that gave up on it. */
  service?: string;
  count?: CountSpec;
}

export interface MetricExpectation {
  /** The field's text, `service:context?query event action` (container left out matches any). */
  field?: string;
  service?: string;
  context?: string;
  event?: string;
  action?: string;
  query?: Record<string, string>;
  /** Summed over every matching field. Default: at least 1. */
  count?: CountSpec;
}

export interface TestCase {
  name: string;
  startTs?: number;
  input: TestStep[];
  advance?: number;
  expect?: OutputExpectation[];
  expectNone?: OutputSelector[];
  deadLetters?: DeadLetterExpectation[];
  metrics?: MetricExpectation[];
}

export interface TestFile {
  startTs?: number;
  /** The data field `at`/`ts` are written to. Default `ts`. */
  timeField?: string;
  cases: TestCase[];
}

const count = { oneOf: [{ type: 'integer', minimum: 0 }, { type: 'object', additionalProperties: false, minProperties: 1, properties: { min: { type: 'integer', minimum: 0 }, max: { type: 'integer', minimum: 0 } } }] };
const selectorProps = {
  subject: { type: 'string', minLength: 1 }, type: { type: 'string', minLength: 1 }, data: {},
  headers: { type: 'object' },
};

/** JSON Schema (2020-12) of a pipeline test file. */
export const testFileSchema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'urn:signalbus:pipeline-test',
  type: 'object', additionalProperties: false, required: ['cases'],
  properties: {
    $schema: { type: 'string' },
    startTs: { type: 'integer', minimum: 0 },
    timeField: { type: 'string', minLength: 1 },
    cases: {
      type: 'array', minItems: 1,
      items: {
        type: 'object', additionalProperties: false, required: ['name', 'input'],
        properties: {
          name: { type: 'string', minLength: 1 },
          description: { type: 'string' },
          startTs: { type: 'integer', minimum: 0 },
          input: {
            type: 'array',
            items: {
              oneOf: [
                { type: 'object', additionalProperties: false, required: ['advance'], properties: { advance: { type: 'integer', minimum: 0 } } },
                {
                  type: 'object', additionalProperties: false, required: ['subject'],
                  not: { required: ['data', 'raw'] },
                  properties: {
                    subject: { type: 'string', minLength: 1 }, data: {}, raw: { type: 'string' }, type: { type: 'string', minLength: 1 },
                    headers: { type: 'object', additionalProperties: { type: 'string' } },
                    at: { type: 'integer' }, ts: { type: 'integer', minimum: 0 },
                  },
                },
              ],
            },
          },
          advance: { type: 'integer', minimum: 0 },
          expect: { type: 'array', items: { type: 'object', additionalProperties: false, properties: { ...selectorProps, count } } },
          expectNone: { type: 'array', items: { type: 'object', additionalProperties: false, minProperties: 1, properties: selectorProps } },
          deadLetters: {
            type: 'array',
            items: { type: 'object', additionalProperties: false, properties: { reason: { type: 'string' }, subject: { type: 'string', minLength: 1 }, service: { type: 'string' }, count } },
          },
          metrics: {
            type: 'array',
            items: {
              type: 'object', additionalProperties: false, minProperties: 1,
              properties: {
                field: { type: 'string' }, service: { type: 'string' }, context: { type: 'string' }, event: { type: 'string' }, action: { type: 'string' },
                query: { type: 'object', additionalProperties: { type: 'string' } }, count,
              },
            },
          },
        },
      },
    },
  },
} as const;

let validateFile: ReturnType<Ajv2020['compile']> | undefined;

function invalid(file: string, path: string, message: string, cause?: unknown): PipelineTestInvalidError {
  return new PipelineTestInvalidError(`${file}: ${path || '/'}: ${message}`, { cause, details: { file, path: path || '/' } });
}

function describeAjvError(e: ErrorObject): string {
  if (e.keyword === 'additionalProperties') return `${e.message} "${(e.params as { additionalProperty: string }).additionalProperty}"`;
  if (e.keyword === 'not') return 'give data or raw, not both';
  if (e.keyword === 'oneOf') return 'must be a message { subject, data | raw, at | ts, headers } or { advance: ms }';
  return e.message ?? 'invalid';
}

/** The most telling of ajv's errors: the deepest one that is not a oneOf summary. */
function pickError(errors: ErrorObject[]): ErrorObject {
  const sorted = [...errors].sort((a, b) => b.instancePath.length - a.instancePath.length);
  return sorted.find((e) => e.keyword !== 'oneOf' && e.keyword !== 'not') ?? sorted[0]!;
}

/**
 * Checks a parsed test file: its shape, then what a schema cannot say (subject patterns,
 * matchers, metric field texts). Errors name the file and the JSON path.
 */
export function validateTestFile(value: unknown, file: string): TestFile {
  validateFile ??= new Ajv2020({ allErrors: true, strict: false }).compile(testFileSchema);
  if (!validateFile(value)) {
    const e = pickError(validateFile.errors ?? []);
    throw invalid(file, e.instancePath, describeAjvError(e));
  }
  const t = value as TestFile;
  const names = new Set<string>();
  for (const [i, c] of t.cases.entries()) {
    const at = `/cases/${i}`;
    if (names.has(c.name)) throw invalid(file, `${at}/name`, `"${c.name}" is used twice; give each case its own name`);
    names.add(c.name);
    for (const [j, step] of c.input.entries()) {
      if ('subject' in step && step.at !== undefined && step.ts !== undefined) throw invalid(file, `${at}/input/${j}`, 'give at or ts, not both');
      if ('subject' in step) checkSubject(file, `${at}/input/${j}/subject`, step.subject, false);
    }
    const selectors: Array<[string, OutputSelector[] | undefined]> = [['expect', c.expect], ['expectNone', c.expectNone]];
    for (const [list, items] of selectors) {
      for (const [j, s] of (items ?? []).entries()) {
        if (s.subject !== undefined) checkSubject(file, `${at}/${list}/${j}/subject`, s.subject, true);
        checkMatchers(file, `${at}/${list}/${j}/data`, s.data);
        checkMatchers(file, `${at}/${list}/${j}/headers`, s.headers);
        checkCount(file, `${at}/${list}/${j}/count`, (s as OutputExpectation).count);
      }
    }
    for (const [j, d] of (c.deadLetters ?? []).entries()) {
      if (d.subject !== undefined) checkSubject(file, `${at}/deadLetters/${j}/subject`, d.subject, true);
      checkCount(file, `${at}/deadLetters/${j}/count`, d.count);
    }
    for (const [j, m] of (c.metrics ?? []).entries()) {
      if (m.field !== undefined) {
        try { parseMetricField(m.field); } catch (cause) { throw invalid(file, `${at}/metrics/${j}/field`, (cause as Error).message, cause); }
      }
      checkCount(file, `${at}/metrics/${j}/count`, m.count);
    }
  }
  return t;
}

function checkSubject(file: string, path: string, subject: string, pattern: boolean): void {
  if (!pattern && /[*>]/.test(subject)) throw invalid(file, path, `"${subject}": an input goes to one subject, not a pattern`);
  try { compilePattern(subject); } catch (cause) { throw invalid(file, path, (cause as Error).message, cause); }
}

function checkMatchers(file: string, path: string, spec: unknown): void {
  const problem = checkMatcherSpec(spec);
  if (problem) throw invalid(file, `${path}${problem.path}`, problem.message);
}

function checkCount(file: string, path: string, c: CountSpec | undefined): void {
  if (typeof c === 'object' && c.min !== undefined && c.max !== undefined && c.min > c.max) throw invalid(file, path, 'min must be <= max');
}

/** Reads and validates a test file. */
export function loadTestFile(file: string): TestFile {
  let text: string;
  try { text = readFileSync(file, 'utf8'); } catch (cause) { throw invalid(file, '', `cannot read: ${(cause as Error).message}`, cause); }
  try { checkJsonDepth(text); } catch (cause) { throw invalid(file, '', `nested deeper than ${MAX_JSON_DEPTH} levels`, cause); }
  let raw: unknown;
  try { raw = JSON.parse(text); } catch (cause) { throw invalid(file, '', `not valid JSON: ${jsonErrorLine(cause)}`, cause); }
  return validateTestFile(raw, file);
}
