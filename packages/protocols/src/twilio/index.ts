export * from './media-stream.js';
