/**
 * Percent-encoding of header values, shared by the bindings whose attributes travel as text
 * headers (HTTP `ce-*`, NATS `ce-*`): the CloudEvents HTTP binding asks for space, `"`, `%` and
 * everything outside printable ASCII to be encoded as UTF-8 bytes, which also keeps values intact
 * through NATS' header parser (it trims and splits on CR/LF). Values that need nothing are
 * returned as they are, without a copy: that is nearly every value on the hot path.
 */
const HEX = '0123456789ABCDEF';
const REPLACEMENT = '%EF%BF%BD';

/** A character needsEncoding is true for: anything but `!`, `#`, `$` and `&`-`~`. */
const NEEDS_ENCODING = /[^!#$&-~]/;

function needsEncoding(c: number): boolean {
  return c <= 0x20 || c >= 0x7f || c === 0x22 /* " */ || c === 0x25 /* % */;
}

/**
 * Percent-encodes space, `"`, `%` and every character outside U+0021–U+007E as UTF-8 bytes;
 * other characters stay as they are. A lone surrogate (not valid Unicode) becomes U+FFFD.
 *
 * @example percentEncodeHeaderValue('ünï 50%') // '%C3%BCn%C3%AF%2050%25'
 */
export function percentEncodeHeaderValue(value: string): string {
  // One native scan finds the first character to encode (none, in nearly every value on the hot path).
  let i = value.search(NEEDS_ENCODING);
  if (i < 0) return value;
  const n = value.length;
  let out = value.slice(0, i);
  for (; i < n; i++) {
    const c = value.charCodeAt(i);
    if (!needsEncoding(c)) { out += value[i]; continue; }
    if (c < 0x80) { out += '%' + HEX[c >> 4] + HEX[c & 15]; continue; }
    let cp = c;
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = i + 1 < n ? value.charCodeAt(i + 1) : 0;
      if (next >= 0xdc00 && next <= 0xdfff) { cp = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00); i++; } else { out += REPLACEMENT; continue; }
    } else if (c >= 0xdc00 && c <= 0xdfff) { out += REPLACEMENT; continue; }
    out += utf8Percent(cp);
  }
  return out;
}

function byte(b: number): string { return '%' + HEX[b >> 4] + HEX[b & 15]; }

function utf8Percent(cp: number): string {
  if (cp < 0x800) return byte(0xc0 | (cp >> 6)) + byte(0x80 | (cp & 63));
  if (cp < 0x10000) return byte(0xe0 | (cp >> 12)) + byte(0x80 | ((cp >> 6) & 63)) + byte(0x80 | (cp & 63));
  return byte(0xf0 | (cp >> 18)) + byte(0x80 | ((cp >> 12) & 63)) + byte(0x80 | ((cp >> 6) & 63)) + byte(0x80 | (cp & 63));
}

/**
 * Reverses percentEncodeHeaderValue, leniently: a value that is not valid percent-encoding (a plain client
 * writing `100%`) is kept as it came.
 *
 * @example percentDecodeHeaderValue('a%20b') // 'a b'
 */
export function percentDecodeHeaderValue(value: string): string {
  if (value.indexOf('%') < 0) return value;
  try { return decodeURIComponent(value); } catch { return value; }
}

