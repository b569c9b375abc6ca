/**
 * Public interface of the cni component: the `sextant-cni` plugin (commands callable in-process),
 * its IPAM, the conflist runtime and the agent's NetworkAttacher.
 */
export { CniAttacher, type CniAttacherOptions, type BridgeNetwork } from './attacher.js';
export { buildConflist, bridgeName, CONFLIST_VERSION, type NetworkSpec } from './conflist.js';
export { CniRuntime, type Conflist, type PluginConf, type Attachment, type RuntimeOptions } from './runtime.js';
export { cmdAdd, cmdDel, cmdCheck, cmdVersion, cmdStatus, cmdGc, type CmdArgs, type GcReport } from './commands.js';
export { runPlugin } from './plugin.js';
export { CniError, CODES } from './errors.js';
export { SUPPORTED_VERSIONS, type Result } from './spec.js';
export { Allocator } from './ipam/allocator.js';
export { writeWrapper, PLUGIN_TYPE } from './wrapper.js';
export { TABLE as PORTMAP_TABLE } from './net/portmap.js';
export { cniAgentPlugin, sliceOf, type CniPluginOptions } from './agent-plugin.js';
