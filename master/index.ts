export * from './protocol.js';
export { Master, type MasterOptions } from './master.js';
export { FileKvStore, MemoryKvStore } from './store/index.js';
export { StoreCorruptError } from './errors.js';
export type { AgentRecord, TaskRecord, TaskStatusRecord, FrameworkRecord } from './model.js';
export { parseApp, type App } from './marathon/app.js';
export { taskName, taskId } from './marathon/naming.js';
export { formatRanges } from './ports.js';
