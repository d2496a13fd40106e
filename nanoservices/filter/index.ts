export * from './field-path.js';
export * from './predicate.js';
export * from './forward.js';
export { createFilterService, type FilterConfig } from './service.js';
export { filterConfigSchema } from './schema.js';
