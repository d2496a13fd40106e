/**
 * Strict base64 (RFC 4648 §4) as the CloudEvents JSON format asks for `data_base64`. Pure, with
 * no Node import, so the browser-safe WebSocket binding checks events as the others do.
 */

/** The base64 alphabet then padding; with a length in whole quanta of 4 that is exactly padded base64. */
const BASE64_CHARS = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Strict base64: no base64url, no whitespace, padded. A simple character-class run, not a pattern
 * of groups, which would exhaust the regex stack on a megabyte of data.
 */
export function isBase64(text: string): boolean {
  return text.length % 4 === 0 && BASE64_CHARS.test(text);
}
