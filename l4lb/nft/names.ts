/** Names of the kernel objects the nftables driver owns (pure, so tests and ops can find them). */
export const DEFAULT_TABLE = 'sextant_l4lb';

/** The table name; `suffix` lets tests and benches run side by side in one namespace. */
export function tableName(suffix = ''): string {
  return suffix ? `${DEFAULT_TABLE}_${suffix}` : DEFAULT_TABLE;
}

export type Family = 4 | 6;
export const FAMILIES: Family[] = [4, 6];

/** VIP:port -> verdict (goto the slot-count chain, or reject). */
export const svcMap = (f: Family) => `svc${f}`;
/** VIP . proto . port . slot -> backend address . port. */
export const slotMap = (f: Family) => `slots${f}`;
/** VIP . proto . port . backend . backend port -> weight, for weights the slot map cannot show (0, scaled). */
export const backendMap = (f: Family) => `backends${f}`;
/** backend . backend: a backend talking to itself through a VIP gets masqueraded (hairpin). */
export const hairpinSet = (f: Family) => `hairpin${f}`;
/** Chain picking one of `n` slots at random. */
export const modChain = (n: number) => `pick${n}`;
export const REJECT_CHAIN = 'no_backend';
export const SERVICES_CHAIN = 'services';
/**
 * Slot count -> `goto pick<n>` (0: `goto no_backend`): the constant verdict map of the slot-count
 * encoding (rules.ts), written once with the table.
 */
export const PICK_MAP = 'picks';

/**
 * What `svc4`/`svc6` map a service to: `count`, its slot count (data elements; the `services`
 * rules, written over netlink, turn it into a verdict through `picks`), or `verdict`, `goto
 * pick<n>` itself (nft's text can express it: the driver uses it when it cannot write rules
 * over netlink).
 */
export type SvcData = 'count' | 'verdict';
