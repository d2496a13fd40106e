export { createSinkService, type SinkConfig } from './service.js';
export { sinkConfigSchema } from './schema.js';
export { SinkRowRefusedError, SinkSchemaError, SinkUnavailableError, SinkDriverMissingError } from './errors.js';
export { COLUMNS as SINK_COLUMNS } from './rows.js';
export { tableOf as sinkTableOf } from './table.js';
