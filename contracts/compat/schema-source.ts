import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import protobuf from 'protobufjs';
import { ContractLoadError } from '../../core/errors.js';
import type { ContractDefinition, ContractVersion } from '../contract.js';
import { createAjv } from '../json-schema-validator.js';
import type { JsonSchema, SchemaDocument } from './types.js';

/**
 * Reads a schema for comparison: a contract file (`{ name, version, schema | proto }`), a bare
 * JSON Schema (`*.json`), or a `.proto` file (`file.proto#package.Message`; the message may be
 * left out when the file has one top-level message). Anything unusable is a ContractLoadError
 * naming the file.
 *
 * @example loadSchemaFile('contracts/schemas/sensor.reading/2.0.0.json')
 */
export function loadSchemaFile(spec: string): SchemaDocument {
  const hash = spec.lastIndexOf('#');
  const [file, message] = hash > 0 && spec.slice(0, hash).endsWith('.proto') ? [spec.slice(0, hash), spec.slice(hash + 1)] : [spec, undefined];
  if (file.endsWith('.proto')) return loadProto(file, message);
  let text: string;
  try { text = readFileSync(file, 'utf8'); } catch (cause) {
    throw new ContractLoadError(`cannot read schema file ${file}: ${(cause as Error).message}`, { cause, details: { file } });
  }
  let parsed: unknown;
  try { parsed = JSON.parse(text); } catch (cause) {
    throw new ContractLoadError(`schema file ${file} is not valid JSON: ${(cause as Error).message}`, { cause, details: { file } });
  }
  if (isContractDefinition(parsed)) {
    if (parsed.schema !== undefined) return jsonDocument(parsed.schema as JsonSchema, file);
    return loadProto(resolve(dirname(file), parsed.proto!.file), parsed.proto!.message);
  }
  if (typeof parsed !== 'boolean' && (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))) {
    throw new ContractLoadError(`schema file ${file} holds neither a contract nor a JSON Schema`, { details: { file, path: '' } });
  }
  return jsonDocument(parsed as JsonSchema, file);
}

function isContractDefinition(v: unknown): v is ContractDefinition {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && typeof (v as ContractDefinition).name === 'string'
    && typeof (v as ContractDefinition).version === 'string' && ((v as ContractDefinition).schema !== undefined || (v as ContractDefinition).proto !== undefined);
}

/** A JSON Schema document, checked to compile (a schema ajv rejects is unusable input). */
export function jsonDocument(schema: JsonSchema, source?: string): SchemaDocument {
  try {
    createAjv().compile(schema);
  } catch (cause) {
    throw new ContractLoadError(`${source ?? 'schema'} is not a valid JSON Schema: ${(cause as Error).message}`, { cause, details: { file: source, path: '' } });
  }
  return { format: 'json-schema', schema, source };
}

function loadProto(file: string, message: string | undefined): SchemaDocument {
  let root: protobuf.Root;
  try {
    root = new protobuf.Root().loadSync(file, { keepCase: false });
    root.resolveAll();
  } catch (cause) {
    throw new ContractLoadError(`cannot load ${file}: ${(cause as Error).message}`, { cause, details: { file } });
  }
  let type: protobuf.Type | undefined;
  if (message) {
    try { type = root.lookupType(message); } catch (cause) {
      throw new ContractLoadError(`${file} has no message ${message}`, { cause, details: { file, path: message } });
    }
  } else {
    const top = topLevelMessages(root);
    if (top.length !== 1) {
      throw new ContractLoadError(`${file} has ${top.length} top-level messages; name one as ${file}#package.Message`, { details: { file, path: '' } });
    }
    type = top[0];
  }
  return { format: 'protobuf', type: type!, source: file };
}

function topLevelMessages(ns: protobuf.NamespaceBase): protobuf.Type[] {
  const out: protobuf.Type[] = [];
  for (const nested of ns.nestedArray) {
    if (nested instanceof protobuf.Type) out.push(nested);
    else if (nested instanceof protobuf.Namespace) out.push(...topLevelMessages(nested));
  }
  return out;
}

/** The schemas of a registered contract version: its JSON Schema and/or its proto. */
export function documentsOf(cv: ContractVersion): SchemaDocument[] {
  const docs: SchemaDocument[] = [];
  const source = cv.file ?? `${cv.name}@${cv.version}`;
  if (cv.definition.schema !== undefined) docs.push({ format: 'json-schema', schema: cv.definition.schema as JsonSchema, source });
  if (cv.protoType) docs.push({ format: 'protobuf', type: cv.protoType, source: cv.protoFile ?? source });
  return docs;
}
