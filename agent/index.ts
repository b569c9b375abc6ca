// Public interface of the agent component.
export { Agent, type AgentOptions } from './agent.js';
export { TaskRunner, type RunnerOptions } from './runner.js';
export { HealthChecker, type HealthEvents } from './health.js';
export { realProbe, type Probe, type ProbeTarget } from './probes.js';
export { StatusSender } from './status.js';
export { Registration } from './registration.js';
export { WorkDir, type TaskRecord, type TaskStatusEntry } from './workdir.js';
export { killCheckpointedTasks } from './cleanup.js';
export { mountFiles, readSandboxFile, MAX_READ } from './files.js';
export { processStartTime, sameProcessAlive } from './proc.js';
export { parseResources, parseAttributes, parsePortRanges, formatPortRanges, DEFAULT_RESOURCES } from './resources.js';
export { NoNetworkAttacherError, WorkDirError } from './errors.js';
export { main as agentMain, parseAgentArgs, type AgentCliOptions } from './cli.js';
export { AGENT_V8_FLAGS, limitYoungGeneration, youngGenerationBytes } from './heap.js';
export { capMallocArenas, mallocTrim, mallocTrimAsync, mallocTrimEnabled, startMallocTrim, TRIM_INTERVAL_MS } from './malloc.js';
export { releaseConfig, startMemoryRelease, type MemoryRelease, type ReleaseConfig } from './release.js';
export { RELEASE_DEFAULTS, ReleasePolicy, type MemorySample, type ReleaseSettings, type ReleaseVerdict } from './release-policy.js';
