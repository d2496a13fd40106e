import { CodecDecodeError, CodecEncodeError, CodecUnknownError } from './errors.js';
import { checkJsonDepth } from './json-depth.js';

/**
 * Turns `data` into bytes for a content type and back. Codecs are chosen by the envelope's
 * `datacontenttype`; the contracts module registers `application/protobuf`.
 */
export interface Codec {
  readonly contentType: string;
  /** `type` is the envelope's type (schema-based codecs need it to pick a message type). */
  encode(data: unknown, type: string): Uint8Array;
  decode(bytes: Uint8Array, type: string): unknown;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export const jsonCodec: Codec = {
  contentType: 'application/json',
  encode(data) {
    let text: string | undefined;
    // A cycle, a BigInt or a value nested too deep for the stack: the caller gets a typed error, not a TypeError or RangeError.
    try { text = JSON.stringify(data); } catch (cause) {
      throw new CodecEncodeError(`data has no JSON form: ${(cause as Error).message}`, { cause });
    }
    if (text === undefined) throw new CodecEncodeError(`data of type ${typeof data} has no JSON form`);
    // Buffer.from draws small strings from a shared pool: ~25% cheaper than TextEncoder here.
    // The result is a view (byteOffset may be non-zero), as any Uint8Array may be.
    return Buffer.from(text, 'utf8');
  },
  /**
   * UTF-8 JSON; a leading byte order mark is skipped (TextDecoder's default, as most JSON readers
   * do). Data nested deeper than MAX_JSON_DEPTH is refused with CodecTooDeepError before parsing.
   */
  decode(bytes) {
    let text: string;
    try { text = decoder.decode(bytes); } catch (cause) {
      throw new CodecDecodeError('body is not valid UTF-8 JSON: not UTF-8', { cause });
    }
    checkJsonDepth(text);
    try {
      return JSON.parse(text);
    } catch (cause) {
      throw new CodecDecodeError(`body is not valid UTF-8 JSON: ${(cause as Error).message}`, { cause });
    }
  },
};

export const textCodec: Codec = {
  contentType: 'text/plain',
  encode(data) { return encoder.encode(String(data)); },
  decode(bytes) {
    try { return decoder.decode(bytes); } catch (cause) { throw new CodecDecodeError('body is not valid UTF-8 text', { cause }); }
  },
};

export const bytesCodec: Codec = {
  contentType: 'application/octet-stream',
  encode(data) {
    if (data instanceof Uint8Array) return data;
    throw new CodecEncodeError('application/octet-stream data must be a Uint8Array');
  },
  decode(bytes) { return bytes; },
};

/** Content types to codecs. Parameters (`; charset=utf-8`) are ignored when looking up. */
export class CodecRegistry {
  private readonly codecs = new Map<string, Codec>();
  // The last content type looked up and its codec: a delivery's content type is a string just
  // read off the wire, which a Map lookup hashes every time; comparing it with the last one is cheaper.
  private lastType: string | undefined;
  private lastCodec: Codec = jsonCodec;

  constructor(codecs: Codec[] = [jsonCodec, textCodec, bytesCodec]) {
    for (const c of codecs) this.register(c);
  }

  register(codec: Codec): this {
    this.codecs.set(codec.contentType, codec);
    this.lastType = undefined;
    return this;
  }

  /** The codec for a content type; JSON when none is given; CodecUnknownError when none fits. */
  get(contentType: string | undefined): Codec {
    if (contentType === undefined) return jsonCodec;
    if (contentType === this.lastType) return this.lastCodec;
    let codec = this.codecs.get(contentType);
    if (codec === undefined) {
      const bare = contentType.split(';', 1)[0]!.trim().toLowerCase();
      codec = this.codecs.get(bare) ?? (bare.endsWith('+json') ? jsonCodec : undefined);
      if (!codec) throw new CodecUnknownError(`no codec for content type "${contentType}"`, { details: { contentType } });
    }
    this.lastType = contentType;
    this.lastCodec = codec;
    return codec;
  }
}

/** The registry transports and buses use unless given another. */
export const defaultCodecs = new CodecRegistry();
