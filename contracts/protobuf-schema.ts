import protobuf from 'protobufjs';
import type { ValidationIssue } from './contract.js';

/** How decoded messages become plain data: int64 as numbers, enums as names, proto3 defaults filled in. */
const TO_OBJECT: protobuf.IConversionOptions = { longs: Number, enums: String, bytes: Array, defaults: true };

/**
 * Encode and decode for one protobuf message type, prepared once at registration. Decoded data
 * is a plain object shaped like the JSON form, so the same JSON Schema checks both bodies;
 * empty repeated fields are left out (proto3 cannot tell them from absent ones).
 *
 * @example const pb = new ProtobufMessage(type); pb.decode(pb.encode({ deviceId: 'a' }));
 */
export class ProtobufMessage {
  private readonly repeatedFields: string[];

  constructor(readonly type: protobuf.Type) {
    type.root.resolveAll();
    this.repeatedFields = type.fieldsArray.filter((f) => f.repeated || f.map).map((f) => f.name);
  }

  /** Issues protobufjs finds with data before encoding (wrong scalar types, unknown enum names). */
  verify(data: unknown): ValidationIssue[] | undefined {
    if (data === null || typeof data !== 'object') return [{ path: '', message: `must be an object to encode as ${this.type.fullName}`, keyword: 'protobuf' }];
    const problem = this.type.verify(data as Record<string, unknown>);
    if (problem === null) return undefined;
    // protobufjs reports `field.sub: what`; turn the dotted field into a pointer.
    const colon = problem.indexOf(':');
    const field = colon > 0 ? problem.slice(0, colon) : '';
    const path = field ? `/${field.replace(/\[(\w+)\]/g, '/$1').split('.').join('/')}` : '';
    return [{ path, message: colon > 0 ? problem.slice(colon + 1).trim() : problem, keyword: 'protobuf' }];
  }

  encode(data: unknown): Uint8Array {
    return this.type.encode(this.type.fromObject(data as Record<string, unknown>)).finish();
  }

  decode(bytes: Uint8Array): Record<string, unknown> {
    const obj = this.type.toObject(this.type.decode(bytes), TO_OBJECT);
    for (const name of this.repeatedFields) {
      const v = obj[name];
      if (Array.isArray(v) ? v.length === 0 : v !== null && typeof v === 'object' && Object.keys(v).length === 0) delete obj[name];
    }
    return obj;
  }
}

/** Parses a `.proto` file's text into a root of types. */
export function parseProto(source: string): protobuf.Root {
  const root = protobuf.parse(source, new protobuf.Root(), { keepCase: false }).root;
  root.resolveAll();
  return root;
}

export { protobuf };
