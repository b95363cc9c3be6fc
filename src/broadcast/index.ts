export * from './handler.js';
