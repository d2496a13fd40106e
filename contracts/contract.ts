import type { Type } from 'protobufjs';
import type { SemVer } from './semver.js';

/** Compatibility modes, with the meaning of the Confluent Schema Registry. */
export const COMPATIBILITY_MODES = [
  'BACKWARD', 'BACKWARD_TRANSITIVE', 'FORWARD', 'FORWARD_TRANSITIVE', 'FULL', 'FULL_TRANSITIVE', 'NONE',
] as const;
export type CompatibilityMode = (typeof COMPATIBILITY_MODES)[number];

/** Points a contract version at a protobuf message type in a `.proto` file. */
export interface ProtoReference {
  /** The `.proto` file, relative to the contract file. */
  file: string;
  /** Fully qualified message name, e.g. `signalbus.sensor.v2.Reading`. */
  message: string;
}

/**
 * A contract version as written in a contract file (`contracts/schemas/<name>/<version>.json`).
 *
 * @example
 * { "name": "sensor.reading", "version": "2.0.0", "schema": { "type": "object" }, "examples": [{}] }
 */
export interface ContractDefinition {
  /** Dot-separated lowercase name, the CloudEvents `type` (e.g. `sensor.reading`). */
  name: string;
  /** Semantic version of this contract. */
  version: string;
  description?: string;
  /** The JSON Schema 2020-12 of `data`. A contract has a schema, a proto, or both. */
  schema?: Record<string, unknown> | boolean;
  /** The protobuf message type of `data` (required for `application/protobuf` bodies). */
  proto?: ProtoReference;
  /** Valid data, checked at load time (and through the proto, when there is one). */
  examples?: unknown[];
  /** Older versions an upcaster (contracts/upcasters.ts) brings to this one. */
  upcastFrom?: string[];
  /** Mode `signalbus contracts check` holds this contract's versions to. Default BACKWARD. */
  compatibility?: CompatibilityMode;
}

/** One problem with data, as a JSON pointer and a message. */
export interface ValidationIssue {
  /** JSON pointer into the data (`/temperature`), `` for the root. */
  path: string;
  message: string;
  /** The ajv keyword or `protobuf`. */
  keyword: string;
}

/** A loaded, compiled contract version. Validators are built once, at registration. */
export interface ContractVersion {
  readonly name: string;
  readonly version: string;
  readonly semver: SemVer;
  /** `urn:signalbus:contract:<name>:<version>`, the `dataschema` stamped on envelopes. */
  readonly urn: string;
  /** The file it was loaded from, when it came from one. */
  readonly file?: string;
  readonly definition: ContractDefinition;
  /** The protobuf message type, when the contract has a proto. */
  readonly protoType?: Type;
  /** The `.proto` file (absolute) and its text, when there is one. */
  readonly protoFile?: string;
  /** Issues with `data`, or undefined when it is valid. */
  check(data: unknown): ValidationIssue[] | undefined;
}

const URN_PREFIX = 'urn:signalbus:contract:';

/** The `dataschema` URN of a contract version. @example contractUrn('sensor.reading', '2.0.0') */
export function contractUrn(name: string, version: string): string {
  return `${URN_PREFIX}${name}:${version}`;
}

/**
 * Splits a `dataschema` URN into name and version; undefined for anything else (a URL, say).
 * @example parseContractUrn('urn:signalbus:contract:sensor.reading:2.0.0') // { name: 'sensor.reading', version: '2.0.0' }
 */
export function parseContractUrn(urn: string): { name: string; version: string } | undefined {
  if (!urn.startsWith(URN_PREFIX)) return undefined;
  const rest = urn.slice(URN_PREFIX.length);
  const colon = rest.lastIndexOf(':');
  if (colon <= 0 || colon === rest.length - 1) return undefined;
  return { name: rest.slice(0, colon), version: rest.slice(colon + 1) };
}

/** Contract names: lowercase dot-separated tokens (they double as subjects' first tokens). */
export const CONTRACT_NAME = /^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)*$/;

/** Formats issues as `path message; …` for error messages and `dlqmessage`. */
export function formatIssues(issues: readonly ValidationIssue[]): string {
  return issues.map((i) => `${i.path || '/'} ${i.message}`).join('; ');
}
