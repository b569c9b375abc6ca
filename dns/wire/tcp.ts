/**
 * DNS over TCP framing (2-byte length prefix). The reader hands out whole messages and reports a
 * stream that ended mid-frame, so a server can close only that connection.
 */
export interface FrameReader {
  /** Feed bytes; calls onFrame for each complete message. */
  push(chunk: Buffer): void;
  /** Bytes of an incomplete frame still buffered (non-zero at end of stream = truncated frame). */
  pending(): number;
}

export function readTcpFrames(onFrame: (msg: Buffer) => void, maxFrame = 65535): FrameReader {
  let buf: Buffer = Buffer.alloc(0);
  return {
    push(chunk) {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      while (buf.length >= 2) {
        const n = buf.readUInt16BE(0);
        if (n > maxFrame) throw new RangeError(`frame of ${n} bytes over ${maxFrame}`);
        if (buf.length < 2 + n) break;
        const msg = buf.subarray(2, 2 + n);
        buf = buf.subarray(2 + n);
        onFrame(msg);
      }
    },
    pending: () => buf.length,
  };
}
