/** `aspire package upload|list|delete`: POST /package (raw body), GET /package, DELETE /package. */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { Command } from 'commander';
import { positiveInt, runClient, usageExit, withConnection, type ClientFlags } from './command-kit.ts';
import { UsageError } from './errors.ts';
import { json, renderTable, when, type Column } from './output.ts';

interface PackageRow {
  id: number;
  name: string;
  version: string;
  os: string;
  arch: string;
  file: string;
  size: number;
  sha256: string;
  gmt_create: number;
}

interface FilterFlags extends ClientFlags {
  id?: string;
  name?: string;
  pkgVersion?: string;
  os?: string;
  arch?: string;
}

const COLUMNS: Column<PackageRow>[] = [
  { head: 'ID', cell: (p) => p.id },
  { head: 'NAME', cell: (p) => p.name },
  { head: 'VERSION', cell: (p) => p.version },
  { head: 'OS/ARCH', cell: (p) => `${p.os}/${p.arch}` },
  { head: 'FILE', cell: (p) => p.file },
  { head: 'SIZE', cell: (p) => p.size },
  { head: 'SHA256', cell: (p) => p.sha256.slice(0, 16) },
  { head: 'UPLOADED', cell: (p) => when(p.gmt_create) },
];

const filterQuery = (f: FilterFlags) => ({
  id: positiveInt('--id', f.id),
  name: f.name,
  version: f.pkgVersion,
  os: f.os,
  arch: f.arch,
});

function withFilters<C extends Command>(cmd: C): C {
  return (
    cmd
      .option('--id <id>', 'package id')
      .option('--name <name>', 'package name')
      // Not --version: commander gives that to the root program wherever it appears.
      .option('--pkg-version <version>', 'package version')
      .option('--os <os>', 'e.g. linux')
      .option('--arch <arch>', 'e.g. x86_64') as C
  );
}

export function addPackageCommands(program: Command): void {
  const pkg = usageExit(program.command('package')).description('upload, list and delete sub-agent packages');

  withConnection(pkg.command('upload'))
    .description('upload a package file (the server keeps its SHA-256 and size)')
    .argument('<file>', 'the package file')
    .requiredOption('--name <name>', 'package name, e.g. basic-agent')
    .requiredOption('--pkg-version <version>', 'package version, e.g. 1.2.0')
    .option('--os <os>', 'target OS', 'linux')
    .option('--arch <arch>', 'target architecture', 'x86_64')
    .option('--file-name <name>', "file name on the server (default: the file's own)")
    .addHelpText(
      'after',
      '\nExample:\n  aspire package upload ./basic-agent-1.2.0.tar.gz --name basic-agent --pkg-version 1.2.0 --arch aarch64',
    )
    .action(
      (
        file: string,
        flags: ClientFlags & { name: string; pkgVersion: string; os: string; arch: string; fileName?: string },
      ) =>
        runClient(flags, async ({ client, mode, out }) => {
          let body: Buffer;
          try {
            body = readFileSync(file);
          } catch (err) {
            throw new UsageError(`${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
          }
          const query = {
            name: flags.name,
            version: flags.pkgVersion,
            os: flags.os,
            arch: flags.arch,
            file: flags.fileName ?? basename(file),
          };
          const r = await client.request('POST', '/package', {
            query,
            raw: { body, contentType: 'application/octet-stream' },
          });
          const p = r.package as PackageRow;
          out.write(
            mode === 'json'
              ? json({ package: p })
              : `package ${p.id}: ${p.name} ${p.version} ${p.os}/${p.arch} ${p.file}, ${p.size} bytes, sha256 ${p.sha256}\n`,
          );
        }),
    );

  withFilters(withConnection(pkg.command('list')))
    .description('list uploaded packages')
    .addHelpText('after', '\nExample:\n  aspire package list --name basic-agent')
    .action((flags: FilterFlags) =>
      runClient(flags, async ({ client, mode, out }) => {
        const { count, items } = await client.all<PackageRow>('/package', 'packages', filterQuery(flags));
        out.write(
          mode === 'json' ? json({ count, packages: items }) : `${renderTable(COLUMNS, items)}${count} packages\n`,
        );
      }),
    );

  withFilters(withConnection(pkg.command('delete')))
    .description('delete the packages matching the filters (at least one) and their files')
    .addHelpText(
      'after',
      '\nExamples:\n  aspire package delete --id 7\n  aspire package delete --name basic-agent --pkg-version 1.1.0',
    )
    .action((flags: FilterFlags) =>
      runClient(flags, async ({ client, mode, out }) => {
        const query = filterQuery(flags);
        if (Object.values(query).every((v) => v === undefined))
          throw new UsageError('give at least one of --id --name --pkg-version --os --arch');
        const r = await client.request('DELETE', '/package', { query });
        const rows = (r.packages as PackageRow[] | undefined) ?? [];
        out.write(
          mode === 'json'
            ? json({ deleted: r.deleted, packages: rows })
            : `deleted ${String(r.deleted)}: ${rows.map((p) => `${p.id} ${p.name} ${p.version} ${p.os}/${p.arch}`).join(', ')}\n`,
        );
      }),
    );
}
