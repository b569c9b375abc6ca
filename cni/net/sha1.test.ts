/**
 * The plain-JS SHA-1 that names host veths and port-map chains matches node:crypto, so names
 * stay what earlier versions made (DEL and GC find them by name).
 */
import t from 'tap';
import { createHash } from 'node:crypto';
import { sha1Hex } from './sha1.js';

const rows: [string, string][] = [
  ['empty', ''],
  ['abc', 'abc'],
  ['attachment', 'mesos-task-1234/eth0'],
  ['55 bytes (padding fits one block)', 'x'.repeat(55)],
  ['56 bytes (padding needs a second block)', 'y'.repeat(56)],
  ['64 bytes', 'z'.repeat(64)],
  ['multi-block', 'marathon.app-0123456789abcdef.'.repeat(20) + '/eth1'],
  ['non-ASCII', 'tâche-ü/eth0'],
];

for (const [what, input] of rows) {
  t.equal(sha1Hex(input), createHash('sha1').update(input).digest('hex'), what);
}
t.equal(sha1Hex('abc'), 'a9993e364706816aba3e25717850c26c9cd0d89d', 'the FIPS 180 test vector');
