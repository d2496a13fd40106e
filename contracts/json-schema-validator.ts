import { _, str, Ajv2020, type ErrorObject, type KeywordCxt, type ValidateFunction } from 'ajv/dist/2020.js';
import { useFunc } from 'ajv/dist/compile/util.js';
import ucs2lengthModule from 'ajv/dist/runtime/ucs2length.js';
import * as ajvFormats from 'ajv-formats';
import type { ValidationIssue } from './contract.js';

// ajv-formats is CommonJS; under NodeNext its default export arrives as the module or as `.default`.
const addFormats = ((ajvFormats as unknown as { default?: unknown }).default ?? ajvFormats) as unknown as (ajv: Ajv2020) => Ajv2020;

/**
 * One ajv instance (JSON Schema 2020-12 + formats) per registry. `strict` makes typos such as
 * `requried` a load-time error instead of a keyword silently ignored.
 *
 * @example const ajv = createAjv(); const validate = ajv.compile({ type: 'number' });
 */
export function createAjv(): Ajv2020 {
  const ajv = new Ajv2020({ allErrors: true, strict: true, strictTypes: false, strictTuples: false, strictRequired: false });
  addFormats(ajv);
  addFastLengthKeywords(ajv);
  return ajv;
}

const ucs2length = ((ucs2lengthModule as unknown as { default?: unknown }).default ?? ucs2lengthModule) as ((s: string) => number) & { code: string };

/**
 * minLength/maxLength with the same meaning as ajv's (lengths in code points), but counting code
 * points only when UTF-16 length cannot decide: a string is never longer in code points than in
 * code units, nor shorter than half. Most strings are decided by `.length` alone, which takes
 * the largest share of validating a typical reading off the hot path.
 */
function addFastLengthKeywords(ajv: Ajv2020): void {
  ajv.removeKeyword('maxLength');
  ajv.removeKeyword('minLength');
  for (const keyword of ['maxLength', 'minLength'] as const) {
    ajv.addKeyword({
      keyword, type: 'string', schemaType: 'number',
      error: {
        message: ({ schemaCode }) => str`must NOT have ${keyword === 'maxLength' ? 'more' : 'fewer'} than ${schemaCode} characters`,
        params: ({ schemaCode }) => _`{limit: ${schemaCode}}`,
      },
      code(cxt: KeywordCxt) {
        const { data, schemaCode, gen } = cxt;
        const count = useFunc(gen, ucs2length);
        cxt.fail(keyword === 'maxLength'
          ? _`${data}.length > ${schemaCode} && ${count}(${data}) > ${schemaCode}`
          : _`${data}.length < ${schemaCode} || (${data}.length < 2 * ${schemaCode} && ${count}(${data}) < ${schemaCode})`);
      },
    });
  }
}

/** ajv's errors as issues with a JSON pointer to the offending value itself. */
export function ajvIssues(errors: readonly ErrorObject[] | null | undefined): ValidationIssue[] {
  return (errors ?? []).map((e) => {
    let path = e.instancePath;
    const p = e.params as Record<string, unknown>;
    if (e.keyword === 'required' && typeof p.missingProperty === 'string') path += `/${escapePointer(p.missingProperty)}`;
    if (e.keyword === 'additionalProperties' && typeof p.additionalProperty === 'string') path += `/${escapePointer(p.additionalProperty)}`;
    const message = e.keyword === 'required' ? 'is required'
      : e.keyword === 'additionalProperties' ? 'is not allowed (closed content model)'
      : e.message ?? e.keyword;
    return { path, message, keyword: e.keyword };
  });
}

export function escapePointer(token: string): string {
  return token.replace(/~/g, '~0').replace(/\//g, '~1');
}

export type { ValidateFunction };
