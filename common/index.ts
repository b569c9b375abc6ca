export * from './errors.js';
export * from './log.js';
export * from './metrics.js';
export * from './clock.js';
export * from './config.js';
export * from './http.js';
export * from './daemon.js';
export * from './port-ranges.js';
