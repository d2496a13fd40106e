import { SignalbusError } from '../core/index.js';

/**
 * A state snapshot (`NanoserviceDefinition.state.restore`) a service cannot read: another format
 * version, a malformed value, or state that does not fit the service's config. `details.field`
 * is the path inside the snapshot (`keys[2].rules[0].streak`). The state before the call is kept.
 *
 * @example
 * try { evaluator.restore(saved) } catch (e) { if (e instanceof SnapshotInvalidError) … start empty or stop }
 */
export class SnapshotInvalidError extends SignalbusError { readonly code = 'SB_ERR_SNAPSHOT_INVALID'; }

/**
 * Reads an untrusted snapshot value by value, failing with a `SnapshotInvalidError` that names
 * the field. `what` prefixes the messages (`alert snapshot`).
 */
export class SnapshotReader {
  constructor(private readonly what: string) {}

  fail(field: string, message: string): never {
    throw new SnapshotInvalidError(`${this.what} ${field} ${message}`, { details: { field } });
  }

  object(x: unknown, field: string): Record<string, unknown> {
    if (x === null || typeof x !== 'object' || Array.isArray(x)) this.fail(field, 'must be an object');
    return x as Record<string, unknown>;
  }

  array(x: unknown, field: string): unknown[] {
    if (!Array.isArray(x)) this.fail(field, 'must be an array');
    return x;
  }

  finite(x: unknown, field: string): number {
    if (typeof x !== 'number' || !Number.isFinite(x)) this.fail(field, 'must be a finite number');
    return x;
  }

  /** A finite number, or `null` for a value JSON cannot hold (±Infinity). */
  finiteOrNull(x: unknown, field: string): number | null {
    return x === null ? null : this.finite(x, field);
  }

  integer(x: unknown, field: string, min = 0): number {
    if (typeof x !== 'number' || !Number.isInteger(x) || x < min) this.fail(field, `must be an integer >= ${min}`);
    return x;
  }

  string(x: unknown, field: string): string {
    if (typeof x !== 'string') this.fail(field, 'must be a string');
    return x;
  }

  optionalString(x: unknown, field: string): string | undefined {
    return x === undefined ? undefined : this.string(x, field);
  }

  boolean(x: unknown, field: string): boolean {
    if (typeof x !== 'boolean') this.fail(field, 'must be a boolean');
    return x;
  }
}
