/**
 * An agent's kernel state as `sextant up --netns` tests compare it: what a network or a rewrite
 * could change (links with their ifindex, addresses, routes of every table, policy rules,
 * permanent neighbours and fdb entries, the nftables ruleset with rule handles), with what ticks on
 * its own blanked (bridge timers, address lifetimes, rule counters, the elements of dynamic sets).
 */
import { eventually } from '../lib/index.js';
import type { NetnsCluster } from './netns-up.js';

export type KernelState = Record<string, string>;

export async function agentKernel(c: NetnsCluster, i: number): Promise<KernelState> {
  const run = (argv: string[]) => c.inAgent(i, argv);
  return {
    links: (await run(['ip', '-d', 'link'])).replace(/\b(\w+_timer)\s+[\d.]+/g, '$1 -'),
    addrs: (await run(['ip', 'addr'])).replace(/valid_lft \S+ preferred_lft \S+/g, ''),
    routes4: await run(['ip', 'route', 'show', 'table', 'all']),
    routes6: await run(['ip', '-6', 'route', 'show', 'table', 'all']),
    rules4: await run(['ip', 'rule']),
    rules6: await run(['ip', '-6', 'rule']),
    neigh: (await run(['ip', 'neigh', 'show', 'nud', 'permanent'])) + (await run(['ip', '-6', 'neigh', 'show', 'nud', 'permanent'])),
    fdb: (await run(['bridge', 'fdb', 'show'])).split('\n').filter((l) => / permanent/.test(l) && !/ master /.test(l)).join('\n'),
    // Dynamic sets (the VIP metrics' per-connection counters) fill with traffic, not with programming.
    nft: (await run(['nft', '-a', 'list', 'ruleset'])).replace(/counter packets \d+ bytes \d+/g, 'counter').replace(/(flags dynamic[^{}]*?)\s*elements = \{[^}]*\}/g, '$1'),
  };
}

/**
 * The state once it has settled: links just created (a network's bridge, a task's veth) finish
 * IPv6 duplicate address detection on their own, after which the kernel adds their link-local
 * routes and multicast fdb entries. Settled = no tentative address and two dumps in a row alike.
 */
export async function settledAgentKernel(c: NetnsCluster, i: number): Promise<KernelState> {
  let last = '';
  return eventually(async () => {
    const k = await agentKernel(c, i);
    const text = JSON.stringify(k);
    const same = text === last && !/tentative/.test(k.addrs!);
    last = text;
    return same ? k : undefined;
  }, 30_000, 500, `agent ${i}'s kernel state settling`);
}
