export { FileKvStore, type StoreStats } from './file.js';
export { MemoryKvStore } from './memory.js';
