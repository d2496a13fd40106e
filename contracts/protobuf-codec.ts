import type { Codec } from '../core/codec.js';
import { CodecDecodeError, CodecEncodeError } from '../core/errors.js';
import type { ContractVersion } from './contract.js';
import type { ContractRegistry, CompiledVersion } from './registry.js';

/** The content type of protobuf bodies. */
export const PROTOBUF_CONTENT_TYPE = 'application/protobuf';

/** Where decoded protobuf data came from, so the hooks can re-decode with the exact version. */
export const PROTOBUF_SOURCE: unique symbol = Symbol.for('signalbus.protobufSource');
export interface ProtobufSource { bytes: Uint8Array; version: ContractVersion }

/** True for `application/protobuf` (parameters ignored). */
export function isProtobuf(contentType: string | undefined): boolean {
  return contentType !== undefined && (contentType === PROTOBUF_CONTENT_TYPE || contentType.startsWith(`${PROTOBUF_CONTENT_TYPE};`));
}

/**
 * `application/protobuf` bodies for contracts that have a proto. The Codec interface sees only
 * the envelope `type`, not the version, so on its own this codec uses the newest version with a
 * proto. With the registry's hooks on the Bus, publishes are encoded by the hooks with the
 * stamped version, and inbound data is re-decoded with the version `dataschema` names.
 *
 * @example
 * const codec = new ProtobufCodec(registry);
 * codec.decode(codec.encode(reading, 'sensor.reading'), 'sensor.reading');
 */
export class ProtobufCodec implements Codec {
  readonly contentType = PROTOBUF_CONTENT_TYPE;

  constructor(private readonly registry: ContractRegistry) {}

  encode(data: unknown, type: string): Uint8Array {
    const cv = this.newestWithProto(type);
    if (!cv) throw new CodecEncodeError(`no contract named ${type} has a proto; cannot encode ${PROTOBUF_CONTENT_TYPE}`, { details: { contract: type } });
    const issues = cv.protobuf!.verify(data);
    if (issues) throw new CodecEncodeError(`${type}@${cv.version} cannot be encoded: ${issues.map((i) => `${i.path || '/'} ${i.message}`).join('; ')}`, { details: { contract: type, issues } });
    return cv.protobuf!.encode(data);
  }

  decode(bytes: Uint8Array, type: string): unknown {
    const cv = this.newestWithProto(type);
    if (!cv) throw new CodecDecodeError(`no contract named ${type} has a proto; cannot decode ${PROTOBUF_CONTENT_TYPE}`, { details: { contract: type } });
    return decodeWith(cv, bytes);
  }

  private newestWithProto(type: string): CompiledVersion | undefined {
    const versions = this.registry.versions(type);
    for (let i = versions.length - 1; i >= 0; i--) {
      const cv = this.registry.compiled(type, versions[i]);
      if (cv.protobuf) return cv;
    }
    return undefined;
  }
}

/** Decodes with one version's message type and remembers the bytes for a later re-decode. */
export function decodeWith(cv: CompiledVersion, bytes: Uint8Array): Record<string, unknown> {
  let data: Record<string, unknown>;
  try {
    data = cv.protobuf!.decode(bytes);
  } catch (cause) {
    throw new CodecDecodeError(`body is not a valid ${cv.protoType!.fullName} (${cv.name}@${cv.version}): ${(cause as Error).message}`, { cause, details: { contract: cv.name, version: cv.version } });
  }
  Object.defineProperty(data, PROTOBUF_SOURCE, { value: { bytes, version: cv } satisfies ProtobufSource, enumerable: false });
  return data;
}
