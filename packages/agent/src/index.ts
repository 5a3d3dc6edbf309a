export * from './prompt.js';
export * from './tools.js';
