/**
 * A nesting limit for JSON, checked on the text before JSON.parse. V8 parses any depth, but the
 * value it returns overflows the stack of the next recursive walk (JSON.stringify,
 * structuredClone, a handler's own code): a 100,000-deep array was a 500 at the gateway and a
 * lost message at a subscriber. The scan is one loop over the text, so it cannot overflow itself.
 *
 * @example
 * checkJsonDepth('[[[1]]]');          // fine: depth 3
 * checkJsonDepth('[[[1]]]', 2);       // throws CodecTooDeepError (SB_ERR_CODEC_TOO_DEEP)
 */
import { CodecTooDeepError } from './errors.js';

/** The deepest nesting of arrays and objects JSON data may have. */
export const MAX_JSON_DEPTH = 128;

const QUOTE = 0x22, BACKSLASH = 0x5c, OPEN_ARRAY = 0x5b, OPEN_OBJECT = 0x7b, CLOSE_ARRAY = 0x5d, CLOSE_OBJECT = 0x7d;

/**
 * Throws CodecTooDeepError when `text` opens more than `maxDepth` arrays/objects inside each
 * other (brackets inside strings do not count), not counting `enclosing` levels that wrap the
 * data (1 for a structured event's object, 2 for a batch). Says nothing about whether the text
 * is valid JSON, and passes a text too short to be valid JSON that deep (fewer than
 * 2 × (limit + 1) characters, unbalanced): call it on text JSON.parse reads next.
 */
export function checkJsonDepth(text: string, maxDepth = MAX_JSON_DEPTH, enclosing = 0): void {
  const limit = maxDepth + enclosing;
  // JSON deeper than the limit opens and closes at least limit + 1 brackets: a shorter text is
  // either shallow enough or no JSON at all (JSON.parse refuses it, so no deep value exists).
  // Most messages are shorter than that (257 characters at the default limit) and skip the scan.
  if (text.length < 2 * (limit + 1)) return;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) {
      inString = true;
    } else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      if (++depth > limit) throw new CodecTooDeepError(`JSON data is nested deeper than ${maxDepth} levels`, { details: { maxDepth } });
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) {
      depth--;
    }
  }
}
