/**
 * The plugin's stdin and stdout as plain synchronous fd calls: no stream objects to build at
 * start-up (a few ms of an ADD). A non-blocking pipe (EAGAIN) falls back to the streams.
 */
import { readSync, writeSync } from 'node:fs';
import { isatty } from 'node:tty';

const again = (e: unknown) => (e as NodeJS.ErrnoException).code === 'EAGAIN';

/** All of stdin ('' for a terminal or a closed stdin). */
export async function readStdin(): Promise<string> {
  if (isatty(0)) return '';
  const chunks: Buffer[] = [];
  try {
    for (;;) {
      const buf = Buffer.alloc(65536);
      const n = readSync(0, buf);
      if (n === 0) break;
      chunks.push(buf.subarray(0, n));
    }
  } catch (e) {
    if (!again(e)) return Buffer.concat(chunks).toString('utf8');
    for await (const c of process.stdin) chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export function writeStdout(text: string): void {
  let buf = Buffer.from(text);
  try {
    while (buf.length) buf = buf.subarray(writeSync(1, buf));
  } catch (e) {
    if (again(e)) process.stdout.write(buf);
  }
}
