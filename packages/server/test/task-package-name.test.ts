// The sub-agent name of a task that gives only a url (issue 13 item 1): a registered package
// first (the server's own link, or a registered file name), then the URL itself.
import { describe, expect, it } from 'vitest';
import type { PackageRow } from '../src/store/store.ts';
import { deriveName, HOW_TO_NAME, nameFromUrl, type PackageLookup } from '../src/tasks/package-name.ts';

function lookup(rows: Partial<PackageRow>[]): PackageLookup & { pages: number } {
  const all = rows.map((r, i) => ({ id: i + 1, version: '1', os: 'linux', arch: 'x86_64', ...r }) as PackageRow);
  const l = {
    pages: 0,
    getPackage: async (id: number) => all.find((p) => p.id === id),
    listPackages: async (_f: unknown, paging: { offset: number; limit: number }) => {
      l.pages++;
      return {
        count: all.length,
        offset: paging.offset,
        limit: paging.limit,
        items: all.slice(paging.offset, paging.offset + paging.limit),
      };
    },
  };
  return l;
}

describe('task package name', () => {
  it('from the URL: command:// with a package verb, a file name before -<digit>', () => {
    expect(nameFromUrl('command://yum install MiniAgent -y')).toBe('MiniAgent');
    expect(nameFromUrl('command://dnf -y --quiet reinstall Foo-Agent')).toBe('Foo-Agent');
    expect(nameFromUrl('https://repo/x/FoobarAgent-1.2.3-rc1.x86_64.rpm')).toBe('FoobarAgent');
    expect(nameFromUrl('command://true')).toBeUndefined();
    expect(nameFromUrl('http://xxxx')).toBeUndefined();
    expect(nameFromUrl('not a url')).toBeUndefined();
  });

  it('a registered package gives the name: its file name anywhere, or the server link by id', async () => {
    const pk = lookup([
      { name: 'Agent', file: 'agent_latest.rpm' },
      { name: 'Other', file: 'other.tar.gz' },
    ]);
    expect(await deriveName('http://mirror.local/pub/agent_latest.rpm', pk)).toEqual({
      ok: true,
      name: 'Agent',
      from: 'package',
    });
    expect(await deriveName('https://aspire:8180/agent/package/2/other.tar.gz?sig=x', pk)).toEqual({
      ok: true,
      name: 'Other',
      from: 'package',
    });
    // Not registered: the URL's own name.
    expect(await deriveName('http://m/BarAgent-2.0.tar.gz', pk)).toEqual({ ok: true, name: 'BarAgent', from: 'url' });
    expect(await deriveName('command://yum install MiniAgent -y', pk)).toMatchObject({ ok: true, name: 'MiniAgent' });
    expect(await deriveName('http://xxxx', pk)).toEqual({ ok: false, cause: HOW_TO_NAME });
  });

  it('reads every page of packages; one file under two names is refused saying so', async () => {
    const many = lookup([
      ...Array.from({ length: 2500 }, (_, i) => ({ name: `A${i}`, file: `a${i}.rpm` })),
      { name: 'Late', file: 'late.rpm' },
      { name: 'X', file: 'dup.rpm' },
      { name: 'Y', file: 'dup.rpm', arch: 'aarch64' },
    ]);
    expect(await deriveName('http://m/late.rpm', many)).toMatchObject({ ok: true, name: 'Late' });
    expect(many.pages).toBe(3);
    const dup = await deriveName('http://m/dup.rpm', many);
    expect(dup.ok).toBe(false);
    expect(dup.ok ? '' : dup.cause).toMatch(/registered under several names \(X, Y\)/);
  });
});
