import { describe, expect, it } from 'vitest';
import {
  MANAGED_BEGIN,
  MANAGED_END,
  managedLineNumbers,
  replaceSection,
  sectionDrift,
  splitCrontab,
  type ManagedTask,
} from '../src/crontab-section.ts';

const host = ['# the host own lines', 'MAILTO=ops', '0 0 * * * * root /usr/bin/host-job', ''].join('\n');
const a: ManagedTask = { name: 'rotate', user: 'root', schedule: '0 */5 * * * *', command: '/usr/bin/rotate --all' };
const b: ManagedTask = { name: 'report', user: 'nobody', schedule: '30 0 9 * * MON-FRI', command: 'echo hi' };

describe('crontab managed section', () => {
  it('appends the section to a file without one and leaves host lines as written', () => {
    const out = replaceSection(host, [a, b]);
    expect(out.startsWith(host)).toBe(true);
    const split = splitCrontab(out);
    expect(split.before).toEqual(host.trimEnd().split('\n'));
    expect(split.section).toEqual([
      '# task: rotate',
      '0 */5 * * * * root /usr/bin/rotate --all',
      '# task: report',
      '30 0 9 * * MON-FRI nobody echo hi',
    ]);
    expect(sectionDrift(out, [a, b])).toEqual([]);
  });

  it('replaces only the section, keeping host lines before and after it', () => {
    const first = `${replaceSection(host, [a])}5 * * * * * root /after\n`;
    const out = replaceSection(first, [b]);
    const split = splitCrontab(out);
    expect(split.before.join('\n')).toBe(host.trimEnd());
    expect(split.after).toEqual(['5 * * * * * root /after']);
    expect(split.section).toEqual(['# task: report', '30 0 9 * * MON-FRI nobody echo hi']);
  });

  it('no tasks: the section and its markers go, host lines stay', () => {
    const out = replaceSection(replaceSection(host, [a, b]), []);
    expect(out).toBe(host);
    expect(sectionDrift(out, [])).toEqual([]);
  });

  it('reports a hand edit per task name: changed, added by hand, deleted', () => {
    const good = replaceSection(host, [a, b]);
    const edited = good
      .replace('/usr/bin/rotate --all', '/usr/bin/rotate --none')
      .replace('# task: report\n30 0 9 * * MON-FRI nobody echo hi\n', '')
      .replace(MANAGED_END, `0 * * * * * root /bin/evil\n${MANAGED_END}`);
    expect(sectionDrift(edited, [a, b])).toEqual([
      {
        name: 'rotate',
        was: '0 */5 * * * * root /usr/bin/rotate --none',
        now: '0 */5 * * * * root /usr/bin/rotate --all',
      },
      { name: 'report', was: undefined, now: '30 0 9 * * MON-FRI nobody echo hi' },
      { name: '?1', was: '0 * * * * * root /bin/evil', now: undefined },
    ]);
    const repaired = replaceSection(edited, [a, b]);
    expect(repaired).toBe(good);
  });

  it('a begin marker without its end runs to the end of the file, and a second section is folded in', () => {
    const broken = `${host}${MANAGED_BEGIN}\n# task: rotate\n${'0 */5 * * * * root /usr/bin/rotate --all'}\n`;
    expect(splitCrontab(broken).unterminated).toBe(true);
    expect(sectionDrift(broken, [a])).toEqual([{ name: '(section)', was: 'edited', now: 'rewritten' }]);
    const twice = `${replaceSection(host, [a])}${MANAGED_BEGIN}\n0 1 * * * * root /copy\n${MANAGED_END}\n`;
    expect(replaceSection(twice, [a])).toBe(replaceSection(host, [a]));
  });

  it('an empty file gets just the section', () => {
    expect(replaceSection('', [a])).toBe(
      `${MANAGED_BEGIN}\n# task: rotate\n0 */5 * * * * root /usr/bin/rotate --all\n${MANAGED_END}\n`,
    );
    expect(replaceSection('', [])).toBe('');
  });
});

describe('managedLineNumbers', () => {
  it('numbers the lines between the markers, 1-based, markers excluded', () => {
    const text = replaceSection('0 0 * * * * root /own\n', [a, b]);
    expect([...managedLineNumbers(text)]).toEqual([3, 4, 5, 6]);
    expect([...managedLineNumbers('0 0 * * * * root /own\n')]).toEqual([]);
  });
});
