import { UsageError } from '../errors.js';

const VAR = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/**
 * Replaces `${NAME}` and `${NAME:-default}` in every string of a parsed pipeline file with the
 * environment's values, so one file serves machines with different broker addresses.
 * An unset variable without a default is an error naming it and where it is used.
 */
export function expandEnv(value: unknown, env: NodeJS.ProcessEnv = process.env, path = ''): unknown {
  if (typeof value === 'string') {
    return value.replace(VAR, (_m, name: string, fallback: string | undefined) => {
      // Own variables only: `${toString}` must not find Object.prototype's function.
      const v = Object.hasOwn(env, name) ? env[name] : undefined;
      if (v !== undefined && v !== '') return v;
      if (fallback !== undefined) return fallback;
      throw new UsageError(`${path || '/'}: environment variable ${name} is not set and has no default (write \${${name}:-value})`,
        { details: { path: path || '/', variable: name } });
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => expandEnv(v, env, `${path}/${i}`));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, expandEnv(v, env, `${path}/${k}`)]));
  }
  return value;
}
