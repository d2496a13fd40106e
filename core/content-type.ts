/**
 * Content-type questions every binding asks, answered once (the same way `CodecRegistry` picks
 * the JSON codec): is this JSON, and what is the bare media type.
 */

/**
 * True for content types whose data the JSON event format embeds as JSON: `application/json`,
 * any `+json` suffix (`application/cloudevents+json`), with or without parameters, and no content
 * type at all (CloudEvents' default).
 *
 * @example isJsonContentType('application/json; charset=utf-8') // true
 */
export function isJsonContentType(contentType: string | undefined): boolean {
  if (contentType === undefined || contentType === 'application/json') return true;
  const bare = mediaType(contentType);
  return bare === 'application/json' || bare.endsWith('+json');
}

/**
 * The media type without parameters, lowercased; '' when there is none.
 * @example mediaType('Text/Plain; charset=utf-8') // 'text/plain'
 */
export function mediaType(contentType: string | undefined): string {
  if (contentType === undefined) return '';
  const semi = contentType.indexOf(';');
  return (semi < 0 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
}
