/**
 * `/v1/config` as mesos-dns v0.7 writes it: its Config struct through Go's encoding/json
 * (exported fields in declaration order, `HttpPort`/`DnsOn`/`HttpOn` tags, map keys sorted, nil
 * slices as null) pretty-printed by go-restful (MarshalIndent with prefix " " and indent " ").
 * Sextant's own keys (EDNS0On, TCPIdleTimeout, LogLimit*) are not part of it. One deliberate
 * difference: a non-empty MesosCredentials secret is shown as "******", not in clear.
 */
import { homedir } from 'node:os';
import { resolve } from 'node:path';
import type { MesosDnsConfig } from './config.js';

/** The body of GET /v1/config. */
export function configJson(c: MesosDnsConfig): string {
  const zr: Record<string, string[]> = {};
  for (const k of Object.keys(c.ZoneResolvers).sort()) zr[k] = c.ZoneResolvers[k]!;
  const ordered = {
    RefreshSeconds: c.RefreshSeconds, Port: c.Port, Timeout: c.Timeout, StateTimeoutSeconds: c.StateTimeoutSeconds,
    ZkDetectionTimeout: c.ZkDetectionTimeout, HttpPort: c.HttpPort, TTL: c.TTL, SRVRecordDefaultWeight: c.SRVRecordDefaultWeight,
    SOASerial: c.SOASerial, SOARefresh: c.SOARefresh, SOARetry: c.SOARetry, SOAExpire: c.SOAExpire, SOAMinttl: c.SOAMinttl,
    SOAMname: c.SOAMname, SOARname: c.SOARname,
    // Go leaves Masters nil (null) when config.json has none (ZooKeeper only).
    Masters: c.Masters.length ? c.Masters : null,
    ZoneResolvers: zr, Resolvers: c.Resolvers, IPSources: c.IPSources, Zk: c.Zk, Domain: c.Domain,
    File: c.File ? resolve(c.File.replace('~/', homedir() + '/')) : '',
    Listener: c.Listener, HTTPListener: c.HTTPListener, RecurseOn: c.RecurseOn, DnsOn: c.DnsOn, HttpOn: c.HttpOn,
    ExternalOn: c.ExternalOn, EnforceRFC952: c.EnforceRFC952, SetTruncateBit: c.SetTruncateBit, EnumerationOn: c.EnumerationOn,
    MesosHTTPSOn: c.MesosHTTPSOn, CACertFile: c.CACertFile, CertFile: c.CertFile, KeyFile: c.KeyFile,
    MesosCredentials: { Principal: c.MesosCredentials.principal, Secret: c.MesosCredentials.secret ? '******' : '' },
    IAMConfigFile: c.IAMConfigFile, MesosAuthentication: c.MesosAuthentication,
  };
  return goIndent(ordered, 1);
}

/** json.MarshalIndent(v, " ", " "): a newline, the prefix, then one space per level; empty [] and {} stay closed. */
export function goIndent(v: unknown, depth = 1): string {
  const pad = (d: number) => '\n ' + ' '.repeat(d);
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'string') return goString(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) {
    if (v.length === 0) return '[]';
    return '[' + v.map((x) => pad(depth) + goIndent(x, depth + 1)).join(',') + pad(depth - 1) + ']';
  }
  const entries = Object.entries(v as Record<string, unknown>);
  if (entries.length === 0) return '{}';
  return '{' + entries.map(([k, x]) => pad(depth) + goString(k) + ': ' + goIndent(x, depth + 1)).join(',') + pad(depth - 1) + '}';
}

/** A string as Go's encoding/json (before Go 1.22) writes it: HTML-safe, \u00XX for other control bytes. */
export function goString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += '\\' + ch;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (c < 0x20 || ch === '<' || ch === '>' || ch === '&' || c === 0x2028 || c === 0x2029) out += '\\u' + c.toString(16).padStart(4, '0');
    else if (c >= 0xd800 && c <= 0xdfff) out += '\\ufffd';
    else out += ch;
  }
  return out + '"';
}
