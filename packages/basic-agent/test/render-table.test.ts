import { describe, expect, it } from 'vitest';
import { renderTable } from '../src/ctl/render-table.ts';

describe('BasicAgentCtl table output', () => {
  it('a list of objects: a header of every key, aligned columns, nested values compact', () => {
    const out = renderTable([
      { name: 'root', uid: 0, groups: ['root', 'wheel'] },
      { name: 'alice', uid: 1000, groups: [], password: { status: 'P' } },
    ]);
    expect(out).toBe(
      [
        'NAME   UID   GROUPS      PASSWORD',
        'root   0     root,wheel  -',
        'alice  1000              {"status":"P"}',
        '',
      ].join('\n'),
    );
  });

  it('one object: key and value lines; an empty list and a scalar', () => {
    expect(renderTable({ release: '6.1.0', machine: 'x86_64' })).toBe('release  6.1.0\nmachine  x86_64\n');
    expect(renderTable([])).toBe('(none)\n');
    expect(renderTable('a\nb')).toBe('a b\n');
  });
});
