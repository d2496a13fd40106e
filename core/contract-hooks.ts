import type { Codec } from './codec.js';
import type { Envelope } from './envelope.js';

/**
 * How a contract registry plugs into the Bus without core depending on it.
 * Implemented by `contracts/`; a Bus without hooks publishes and delivers data unchecked.
 */
export interface ContractHooks {
  /**
   * Stamps `dataschema` (and the version) on an outbound envelope whose `type` names a contract,
   * and checks its data. Throws ContractInvalidError / ContractUnknownError.
   */
  outbound(envelope: Envelope, version: string | undefined): void;
  /**
   * Checks an inbound, decoded envelope and upcasts it to a version `accept` (a semver range)
   * allows. Returns the envelope to hand the handler. Throws ContractInvalidError /
   * ContractVersionError, which dead-letter the message at once.
   */
  inbound(envelope: Envelope, accept: string | undefined): Envelope;
  /** Codecs the contracts bring (e.g. application/protobuf). */
  codecs?(): Codec[];
}
