export * from './twilio-double/index.js';
export { waitFor, WaitForTimeoutError, WAIT_FOR_DEFAULTS } from './wait-for.js';
export type { WaitForOptions } from './wait-for.js';
export * from './realtime-double/index.js';
export * from './tls/index.js';
export * from './process/index.js';
export { synthesizeMulaw } from './audio/speech.js';
export type { SpeechOptions } from './audio/speech.js';
