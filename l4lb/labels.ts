/** The VIP label parser lives in contracts/vip-label.ts (the master validates with it too). */
export { isVipPortLabel, parseProtocol, parseVipPortLabel, parseVipValue, vipLabelName, vipPortLabelIndex, type VipTarget } from '../contracts/vip-label.js';
