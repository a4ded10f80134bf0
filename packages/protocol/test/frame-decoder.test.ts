import { describe, expect, it } from 'vitest';
import { FrameDecoder, encodeFrame } from '../src/index.ts';

describe('channel frame decoder', () => {
  it('splits newline-delimited JSON across chunk boundaries', () => {
    const d = new FrameDecoder();
    const text = encodeFrame({ a: 1 }) + encodeFrame({ b: 'x\ny' });
    const out = [...d.push(Buffer.from(text.slice(0, 5))), ...d.push(Buffer.from(text.slice(5)))];
    expect(out).toEqual([
      { kind: 'frame', value: { a: 1 } },
      { kind: 'frame', value: { b: 'x\ny' } },
    ]);
  });

  it('reports garbage as malformed and carries on', () => {
    const d = new FrameDecoder();
    const out = d.push(Buffer.from('not json\n\n{"ok":true}\n'));
    expect(out[0]!.kind).toBe('malformed');
    expect(out[1]).toEqual({ kind: 'frame', value: { ok: true } });
  });

  it('stops at a line over the maximum, even without a newline', () => {
    const d = new FrameDecoder(16);
    expect(d.push(Buffer.from('{"a":"0123456789abcdef"'))).toEqual([{ kind: 'oversize', bytes: 23 }]);
    expect(d.push(Buffer.from('}\n{"b":1}\n'))).toEqual([]);
  });

  it('keeps multi-byte characters split across chunks', () => {
    const d = new FrameDecoder();
    const b = Buffer.from(encodeFrame({ s: '€' }));
    expect([...d.push(b.subarray(0, 8)), ...d.push(b.subarray(8))]).toEqual([{ kind: 'frame', value: { s: '€' } }]);
  });
});
