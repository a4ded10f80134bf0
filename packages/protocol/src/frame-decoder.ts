import { MAX_FRAME_BYTES } from './channel-wire.ts';
import { parseJson } from './validate.ts';

export type DecodedFrame =
  | { kind: 'frame'; value: unknown }
  | { kind: 'malformed'; error: string }
  | { kind: 'oversize'; bytes: number };

/**
 * Newline-delimited JSON frames of the BasicAgent channel, used by both ends. A line longer
 * than the maximum is reported once (`oversize`) and the connection should be closed: there is
 * no resynchronising inside an unbounded line. A line that is not JSON is `malformed` and the
 * stream continues with the next line.
 */
export class FrameDecoder {
  private parts: Buffer[] = [];
  private size = 0;
  private overflowed = false;

  constructor(private readonly maxBytes = MAX_FRAME_BYTES) {}

  push(chunk: Buffer): DecodedFrame[] {
    const out: DecodedFrame[] = [];
    if (this.overflowed) return out;
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl < 0) break;
      const piece = chunk.subarray(start, nl);
      if (this.size + piece.length > this.maxBytes) {
        this.overflowed = true;
        out.push({ kind: 'oversize', bytes: this.size + piece.length });
        return out;
      }
      const line = this.size === 0 ? piece : Buffer.concat([...this.parts, piece]);
      this.parts = [];
      this.size = 0;
      start = nl + 1;
      const text = line.toString('utf8').trim();
      if (text === '') continue;
      const p = parseJson(text);
      out.push(p.ok ? { kind: 'frame', value: p.value } : { kind: 'malformed', error: p.error });
    }
    const rest = chunk.subarray(start);
    if (rest.length) {
      if (this.size + rest.length > this.maxBytes) {
        this.overflowed = true;
        out.push({ kind: 'oversize', bytes: this.size + rest.length });
        return out;
      }
      this.parts.push(Buffer.from(rest));
      this.size += rest.length;
    }
    return out;
  }
}

/** One frame on the wire. JSON.stringify never emits a raw newline, so a frame is one line. */
export function encodeFrame(frame: unknown): string {
  return `${JSON.stringify(frame)}\n`;
}
