export * from './audio/index.js';
export * from './twilio/index.js';
