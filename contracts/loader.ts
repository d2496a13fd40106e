import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { ContractLoadError } from '../core/errors.js';
import type { ContractDefinition } from './contract.js';

/** A contract definition and the file it came from. */
export interface LoadedDefinition {
  file: string;
  definition: ContractDefinition;
}

/**
 * Every contract file (`*.json`) under `dir`, recursively, in a stable order. A file that is
 * not JSON or not a contract object is a ContractLoadError naming it.
 *
 * @example readContractFiles('contracts/schemas').map((d) => d.definition.name)
 */
export function readContractFiles(dir: string): LoadedDefinition[] {
  let entries: string[];
  try {
    if (!statSync(dir).isDirectory()) throw new Error('not a directory');
    entries = readdirSync(dir, { recursive: true, encoding: 'utf8' });
  } catch (cause) {
    throw new ContractLoadError(`cannot read contract directory ${dir}: ${(cause as Error).message}`, { cause, details: { file: dir } });
  }
  return entries
    .filter((e) => e.endsWith('.json'))
    .sort()
    .map((e) => readContractFile(join(dir, e)));
}

/** Reads one contract file. */
export function readContractFile(file: string): LoadedDefinition {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new ContractLoadError(`cannot read contract file ${file}: ${(cause as Error).message}`, { cause, details: { file } });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw new ContractLoadError(`contract file ${file} is not valid JSON: ${(cause as Error).message}`, { cause, details: { file } });
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ContractLoadError(`contract file ${file} must hold an object { name, version, schema | proto, examples }`, { details: { file, path: '' } });
  }
  return { file, definition: parsed as ContractDefinition };
}

/** The version a file name states (`2.0.0.json` → `2.0.0`), if it states one. */
export function versionFromFileName(file: string): string | undefined {
  const m = /^(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)\.json$/.exec(basename(file));
  return m?.[1];
}
