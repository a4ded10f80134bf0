/**
 * The `packages` collector (dpkg or rpm, see below). execFile rather than execa: the Ctl loads
 * only the collector it runs, and execa would add its dependency tree to that start-up path
 * (docs/performance.md).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { ErrorCode } from '@aspire/protocol/error-codes';
import { CollectorError, noArgs, type Collector } from './collector.ts';

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      cmd,
      args,
      { maxBuffer: 256 * 1024 * 1024, timeout: 120_000, env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' } },
      (err, stdout) => (err ? reject(err) : resolve(stdout)),
    );
  });
}

/**
 * Installed packages from the host's own package database: dpkg when /var/lib/dpkg/status
 * exists (a Debian host may have rpm installed with an empty database), else rpm.
 */
export const packagesCollector: Collector = {
  name: 'packages',
  async run(args) {
    noArgs('packages', args);
    try {
      if (existsSync('/var/lib/dpkg/status')) {
        const out = await run('dpkg-query', [
          '-W',
          '-f',
          '${Package}\\t${Version}\\t${Architecture}\\t${db:Status-Abbrev}\\n',
        ]);
        return {
          manager: 'dpkg',
          packages: out
            .split('\n')
            .filter(Boolean)
            .map((l) => l.split('\t'))
            .filter((f) => f[3]?.startsWith('ii'))
            .map(([name, version, arch]) => ({ name, version, arch })),
        };
      }
      const out = await run('rpm', ['-qa', '--qf', '%{NAME}\\t%{EPOCH}:%{VERSION}-%{RELEASE}\\t%{ARCH}\\n']);
      return {
        manager: 'rpm',
        packages: out
          .split('\n')
          .filter(Boolean)
          .map((l) => l.split('\t'))
          .map(([name, version, arch]) => ({ name, version: version?.replace(/^\(none\):/, ''), arch })),
      };
    } catch (err) {
      throw new CollectorError(ErrorCode.COLLECTOR_FAILED, (err as Error).message);
    }
  },
};
