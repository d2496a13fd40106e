export * from './rules.js';
export { ALERT_DEFAULTS, createAlertService, alertData, type AlertConfig } from './service.js';
export { alertConfigSchema } from './schema.js';
