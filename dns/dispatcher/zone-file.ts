/**
 * Zone file for standalone use: JSON (a list of {name, type, data}) when the path ends in .json,
 * else one record per line: `name type data...` with `#` comments.
 */
import { readFileSync } from 'node:fs';
import type { ZoneRecord, ZoneRecordType } from '../../contracts/index.js';
import { ZoneFileError } from './errors.js';

type Rec = Pick<ZoneRecord, 'name' | 'type' | 'data'>;

export function parseZoneFile(text: string, file: string): Rec[] {
  if (file.endsWith('.json')) {
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch (e) {
      throw new ZoneFileError(file, 1, `not valid JSON: ${(e as Error).message}`);
    }
    if (!Array.isArray(v)) throw new ZoneFileError(file, 1, 'must be a list of {name, type, data}');
    return v.map((r, i) => {
      const o = r as Record<string, unknown>;
      if (typeof o?.name !== 'string' || typeof o.type !== 'string' || typeof o.data !== 'string') {
        throw new ZoneFileError(file, 1, `entry ${i} needs string name, type and data`);
      }
      return { name: o.name, type: o.type.toUpperCase() as ZoneRecordType, data: o.data };
    });
  }
  const out: Rec[] = [];
  text.split('\n').forEach((line, i) => {
    const s = line.replace(/#.*/, '').trim();
    if (!s) return;
    const m = /^(\S+)\s+(\S+)\s+(.+)$/.exec(s);
    if (!m) throw new ZoneFileError(file, i + 1, 'expected "name type data"');
    out.push({ name: m[1]!, type: m[2]!.toUpperCase() as ZoneRecordType, data: m[3]!.trim() });
  });
  return out;
}

export function loadZoneFile(file: string): Rec[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ZoneFileError(file, 0, `cannot read: ${(e as Error).message}`);
  }
  return parseZoneFile(text, file);
}
