export * from './defaults.js';
export * from './clips.js';
export * from './records.js';
export * from './auth.js';
export * from './link.js';
export * from './server.js';
export * from './dial.js';
export * from './metrics.js';
