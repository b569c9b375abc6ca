// Public interface of the overlay component: virtual networks over VXLAN, allocator, isolation.
export { DEFAULT_OVERLAY, DEFAULT_NETWORKS, DEFAULT_MTU, RESERVED_NAMES, MAX_NAME, parseOverlayConfig, dualStackDefaultNetworks, parseNetwork, parseRule, parsePolicy, vtepMac, ruleKey } from './config.js';
export { Allocator, type AllocatorOptions } from './allocator.js';
export { OverlayMaster, type OverlayMasterOptions } from './master.js';
export { OverlayAgentComponent, type OverlayAgentOptions, type SyncReport } from './agent.js';
export { IprouteDriver, type KernelDriver, type KernelState } from './kernel.js';
export { NetlinkDriver } from './netlink.js';
export { createDriver, kernelKind, KERNEL_ENV, type KernelKind } from './driver.js';
export { desiredState, bridgeName, OVERLAY_TABLE, type DesiredState } from './desired.js';
export { planChanges } from './diff.js';
export { renderBatch, opText, type Plan } from './batch.js';
export { MAIN_TABLE, type Op } from './ops.js';
export { buildRuleset, NFT_TABLE, type RuleCounter } from './nft.js';
export { OverlayExhaustedError, KernelError } from './errors.js';
export { overlayMasterPlugin, overlayAgentPlugin } from './plugins.js';
export { noSliceReason, missingSlices } from './exhaustion.js';
