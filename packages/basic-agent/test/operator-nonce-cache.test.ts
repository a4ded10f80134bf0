import { describe, expect, it } from 'vitest';
import { OperatorNonceCache } from '../src/agent/operator-nonce-cache.ts';

describe('OperatorNonceCache (opsig replay)', () => {
  it('a nonce is accepted once until its exp; expired ones are pruned', () => {
    const c = new OperatorNonceCache();
    expect(c.accept('nonce-aaaaaaaaaaaaaaaa', 1060, 1000)).toBe(true);
    expect(c.accept('nonce-aaaaaaaaaaaaaaaa', 1060, 1030)).toBe(false);
    // Still refused at its exp second (signatures are valid through it).
    expect(c.accept('nonce-aaaaaaaaaaaaaaaa', 1060, 1060)).toBe(false);
    expect(c.accept('nonce-bbbbbbbbbbbbbbbb', 1200, 1061)).toBe(true);
    expect(c.size).toBe(1);
  });

  it('when full, the oldest is forgotten and signatures expiring no later than it are refused', () => {
    const c = new OperatorNonceCache(2);
    expect(c.accept('n1', 1100, 1000)).toBe(true);
    expect(c.accept('n2', 1200, 1000)).toBe(true);
    expect(c.accept('n3', 1300, 1000)).toBe(true);
    expect(c.size).toBe(2);
    // n1 was forgotten while valid: its replay is refused by the floor, as is anything expiring by then.
    expect(c.accept('n1', 1100, 1000)).toBe(false);
    expect(c.accept('n4', 1050, 1000)).toBe(false);
    expect(c.accept('n5', 1101, 1000)).toBe(true);
  });
});
