/**
 * Shared test helpers. Every kernel object and process a test makes is named with the per-run
 * prefix and torn down in t.teardown, even when the test fails.
 */
export * from './require.js';
export * from './names.js';
export * from './run-root.js';
export * from './netns.js';
export * from './proc.js';
export * from './net.js';
export * from './hosts.js';
export * from './zookeeper.js';
export * from './pki.js';
export * from './insecure.js';
export * from './churn.js';
export * from './tmux.js';
export * from './random.js';
