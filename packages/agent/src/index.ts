export * from './prompt.js';
export * from './prompt-version.js';
export * from './tools.js';
