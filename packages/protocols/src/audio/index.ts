export * from './constants.js';
export * from './mulaw.js';
export * from './wav.js';
