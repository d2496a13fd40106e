export * from './rules.js';
export { createAlertService, alertData, type AlertConfig } from './service.js';
export { alertConfigSchema } from './schema.js';
