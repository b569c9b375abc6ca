/**
 * The one resolv.conf renderer (the node's, written by the dispatcher, and each task's, written by
 * the CNI attacher). glibc reads at most three `nameserver` lines (MAXNS) and ignores the rest,
 * so more are not written: the file says what the resolver will use.
 */
export const MAX_NAMESERVERS = 3;
export const RESOLV_OPTIONS = ['timeout:1', 'attempts:3'];

export interface ResolvConf {
  nameservers: readonly string[];
  /** `search` domains, in order; none: no `search` line. */
  search?: readonly string[];
  /** `options` entries; default `timeout:1 attempts:3`. */
  options?: readonly string[];
  /** First line, as a comment (`# ` is added). */
  comment?: string;
}

export function renderResolvConf(c: ResolvConf): string {
  const options = c.options ?? RESOLV_OPTIONS;
  const lines = [
    ...(c.comment ? [`# ${c.comment}`] : []),
    ...(c.search?.length ? [`search ${c.search.join(' ')}`] : []),
    ...c.nameservers.slice(0, MAX_NAMESERVERS).map((n) => `nameserver ${n}`),
    ...(options.length ? [`options ${options.join(' ')}`] : []),
  ];
  return lines.join('\n') + '\n';
}
