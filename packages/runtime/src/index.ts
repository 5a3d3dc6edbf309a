export * from './ops-routes.js';
export * from './metrics.js';
export * from './http-server.js';
export * from './lifecycle.js';
export * from './retry.js';
export * from './pending-work.js';
