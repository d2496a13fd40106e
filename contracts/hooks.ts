import type { Codec } from '../core/codec.js';
import type { ContractHooks } from '../core/contract-hooks.js';
import type { Envelope } from '../core/envelope.js';
import { CodecEncodeError, ContractInvalidError, ContractUnknownError } from '../core/errors.js';
import { jsonCodec } from '../core/codec.js';
import { parseContractUrn } from './contract.js';
import { invalid } from './contract-errors.js';
import { decodeWith, isProtobuf, PROTOBUF_SOURCE, ProtobufCodec, type ProtobufSource } from './protobuf-codec.js';
import type { CompiledVersion, ContractRegistry } from './registry.js';

/**
 * Marks an envelope whose data a registry's version checked on publish: the version, and the data
 * as it was checked. An in-process transport (memory) hands the consumer that same envelope
 * object; when the consumer's registry would check the same data against the same compiled
 * version, it trusts the mark instead of validating a second time. Symbol keys travel with object
 * spread but never into a wire encoding, and a copy with other data fails the identity test.
 */
const CHECKED_BY = Symbol('signalbus.contract.checkedBy');
const CHECKED_DATA = Symbol('signalbus.contract.checkedData');
interface Checked { [CHECKED_BY]?: CompiledVersion; [CHECKED_DATA]?: unknown }

/**
 * The registry's side of the Bus (core/contract-hooks.ts).
 *
 * Outbound: when `type` names a contract, stamps `dataschema` with the version asked for (else
 * the one already stamped, else the newest) and refuses invalid data with ContractInvalidError.
 * `application/protobuf` data is encoded here, with that exact version's message type.
 *
 * Inbound: reads the version from `dataschema` (a raw publisher's message without one is read
 * as the newest version the consumer accepts), validates, and upcasts to the newest version in
 * the consumer's `accept` range. Unknown versions and versions outside the range are
 * ContractVersionError; bad data is ContractInvalidError. The Bus dead-letters both at once.
 * Data this registry checked on publish and that reaches a consumer in the same process unchanged
 * (same envelope, same data reference) is not checked twice: validation costs once per process,
 * as it does when publisher and consumer are separate processes. What a handler publishes is
 * always checked, even the very object it was handed: handlers may edit it in place.
 *
 * A `type` that names no contract passes through unchecked, both ways.
 *
 * @example new Bus({ service: 'filter', transport, contracts: registry.hooks() })
 */
export class RegistryHooks implements ContractHooks {
  private readonly protobufCodec: ProtobufCodec;

  constructor(private readonly registry: ContractRegistry) {
    this.protobufCodec = new ProtobufCodec(registry);
  }

  codecs(): Codec[] { return [this.protobufCodec]; }

  outbound(envelope: Envelope, version: string | undefined): void {
    const versions = this.registry.compiledVersions(envelope.type);
    if (versions === undefined) {
      if (version !== undefined) {
        throw new ContractUnknownError(`publish asks for ${envelope.type}@${version}, but no contract is named ${envelope.type}`, { details: { contract: envelope.type, version } });
      }
      return;
    }
    const cv = version === undefined && envelope.dataschema === undefined ? versions[versions.length - 1]! : this.outboundVersion(envelope, version);
    const contentType = envelope.datacontenttype;
    const protobuf = contentType !== undefined && contentType !== 'application/json' && isProtobuf(contentType);
    let data = envelope.data;
    if (data instanceof Uint8Array) data = protobuf ? this.decodeFor(cv, data) : jsonCodec.decode(data, envelope.type);
    const issues = cv.check(data);
    if (issues !== undefined) throw invalid(cv, issues);
    envelope.dataschema = cv.urn;
    (envelope as Checked)[CHECKED_BY] = cv;
    (envelope as Checked)[CHECKED_DATA] = data;
    if (protobuf && !(envelope.data instanceof Uint8Array)) {
      if (!cv.protobuf) throw new CodecEncodeError(`${cv.name}@${cv.version} has no proto; publish it as application/json`, { details: { contract: cv.name, version: cv.version } });
      const pbIssues = cv.protobuf.verify(data);
      if (pbIssues) throw invalid(cv, pbIssues, 'data (protobuf)');
      envelope.data = cv.protobuf.encode(data);
    }
  }

  inbound(envelope: Envelope, accept: string | undefined): Envelope {
    const ds = envelope.dataschema;
    let from = typeof ds === 'string' ? this.registry.byDataschema(ds) as CompiledVersion | undefined : undefined;
    if (from === undefined || from.name !== envelope.type) {
      if (!this.registry.has(envelope.type)) return envelope;
      from = this.inboundVersion(envelope, accept);
    }
    let data = envelope.data;
    const contentType = envelope.datacontenttype;
    if (contentType !== undefined && contentType !== 'application/json' && isProtobuf(contentType) && data !== null && typeof data === 'object') {
      const source = (data as { [PROTOBUF_SOURCE]?: ProtobufSource })[PROTOBUF_SOURCE];
      if (data instanceof Uint8Array) data = this.decodeFor(from, data);
      else if (source && source.version !== from) data = this.decodeFor(from, source.bytes);
    }
    if ((envelope as Checked)[CHECKED_BY] !== from || (envelope as Checked)[CHECKED_DATA] !== data || data === undefined) {
      const issues = from.check(data);
      if (issues !== undefined) throw invalid(from, issues);
    }
    if (accept === undefined) return data === envelope.data ? envelope : { ...envelope, data };
    const route = from.routes.get(accept) ?? this.registry.route(from, accept);
    if (route.target === from && data === envelope.data) return envelope;
    const upcast = this.registry.applyRoute(from, route, data);
    return { ...envelope, data: upcast, dataschema: route.target!.urn };
  }

  private decodeFor(cv: CompiledVersion, bytes: Uint8Array): Record<string, unknown> {
    if (!cv.protobuf) throw new ContractInvalidError(`${cv.name}@${cv.version} has no proto, but the body is ${'application/protobuf'}`, { details: { contract: cv.name, version: cv.version, path: '' } });
    return decodeWith(cv, bytes);
  }

  private outboundVersion(envelope: Envelope, version: string | undefined): CompiledVersion {
    if (version !== undefined) return this.registry.compiled(envelope.type, version);
    if (typeof envelope.dataschema === 'string') {
      const stamped = parseContractUrn(envelope.dataschema);
      if (stamped) {
        if (stamped.name !== envelope.type) {
          throw new ContractInvalidError(`dataschema names contract ${stamped.name} but type is ${envelope.type}`, { details: { contract: envelope.type, dataschema: envelope.dataschema, path: '' } });
        }
        return this.registry.compiled(stamped.name, stamped.version);
      }
    }
    return this.registry.compiled(envelope.type);
  }

  private inboundVersion(envelope: Envelope, accept: string | undefined): CompiledVersion {
    const ds = envelope.dataschema;
    if (typeof ds === 'string') {
      const known = this.registry.byDataschema(ds) as CompiledVersion | undefined;
      if (known && known.name === envelope.type) return known;
      const stamped = parseContractUrn(ds);
      if (stamped) {
        if (stamped.name !== envelope.type) {
          throw new ContractInvalidError(`dataschema names contract ${stamped.name} but type is ${envelope.type}`, { details: { contract: envelope.type, dataschema: ds, path: '' } });
        }
        return this.registry.compiled(stamped.name, stamped.version);
      }
    }
    return this.registry.defaultVersion(envelope.type, accept);
  }
}
