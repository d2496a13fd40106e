// Loaded with `node --import`: makes `@opentelemetry/api` unresolvable, as in a project that did
// not install the optional peer dependency (tracing-otel.test.ts).
import { register } from 'node:module';

register('data:text/javascript,' + encodeURIComponent(`
export async function resolve(specifier, context, next) {
  if (specifier === '@opentelemetry/api' || specifier.startsWith('@opentelemetry/api/')) {
    const err = new Error("Cannot find package '@opentelemetry/api'");
    err.code = 'ERR_MODULE_NOT_FOUND';
    throw err;
  }
  return next(specifier, context);
}`));
