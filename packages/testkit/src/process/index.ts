export * from './free-port.js';
export * from './proc-stats.js';
export * from './service-process.js';
export * from './process-stack.js';
