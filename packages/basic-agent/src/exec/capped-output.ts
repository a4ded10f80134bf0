import { OUTPUT_CAP_BYTES } from '@aspire/protocol';

/**
 * Output kept up to a byte cap; everything after it is counted and dropped (design.md §4: output past the
 * 64 KiB buffer is dropped). Counting what was dropped lets the reply say how much
 * was lost instead of silently cutting.
 */
export class CappedOutput {
  private readonly chunks: Buffer[] = [];
  private kept = 0;
  private dropped = 0;

  constructor(readonly cap = OUTPUT_CAP_BYTES) {}

  push(chunk: Buffer): void {
    const room = this.cap - this.kept;
    if (room <= 0) {
      this.dropped += chunk.length;
      return;
    }
    if (chunk.length <= room) {
      this.chunks.push(chunk);
      this.kept += chunk.length;
      return;
    }
    this.chunks.push(chunk.subarray(0, room));
    this.kept += room;
    this.dropped += chunk.length - room;
  }

  get truncated(): boolean {
    return this.dropped > 0;
  }

  get droppedBytes(): number {
    return this.dropped;
  }

  get keptBytes(): number {
    return this.kept;
  }

  /**
   * The kept bytes as UTF-8; a multi-byte character cut by the cap is left out, not mangled.
   * `truncated` says the output went on past what was pushed (the capper dropped the rest).
   */
  text(opts: { truncated?: boolean } = {}): string {
    let buf = Buffer.concat(this.chunks, this.kept);
    if (opts.truncated ?? this.truncated) buf = buf.subarray(0, utf8Boundary(buf));
    return buf.toString('utf8');
  }
}

/** Length of buf without a trailing incomplete UTF-8 sequence. */
export function utf8Boundary(buf: Buffer): number {
  let i = buf.length - 1;
  let back = 0;
  while (i >= 0 && back < 4 && (buf[i]! & 0xc0) === 0x80) {
    i--;
    back++;
  }
  if (i < 0) return buf.length;
  const lead = buf[i]!;
  const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
  return back + 1 >= need ? buf.length : i;
}
