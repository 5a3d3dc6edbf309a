export * from './config-error.js';
export * from './parse-env.js';
export * from './fields.js';
export * from './redact.js';
