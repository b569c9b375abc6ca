/** One query to one upstream that can be cancelled once another upstream has won. */
export interface Attempt {
  promise: Promise<Buffer>;
  cancel(): void;
}

/** Case-insensitive comparison of the question section of two messages (from byte 12 to `end`). */
export function sameQuestion(query: Buffer, end: number, reply: Buffer): boolean {
  if (reply.length < end || reply[4] !== 0 || reply[5] !== 1) return false;
  for (let i = 12; i < end; i++) {
    let a = query[i]!;
    let b = reply[i]!;
    if (a >= 0x41 && a <= 0x5a) a |= 0x20;
    if (b >= 0x41 && b <= 0x5a) b |= 0x20;
    if (a !== b) return false;
  }
  return true;
}
