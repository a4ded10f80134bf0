/**
 * `aspire migrate --from <sqlite data dir> --to <postgres url> [--data-dir DIR] [--password-file F]`:
 * move a single-node deployment onto PostgreSQL (docs/scale.md "Moving up from one node").
 * Stop the server first: the source data dir's pidfile lock is taken for the copy.
 */
import { join } from 'node:path';
import type { Command } from 'commander';
import { acquirePidfile, ConfigError } from '@aspire/agent-core';
import { DB_FILE } from '../open-store.ts';
import { parseDatabaseUrl } from './connection.ts';
import { copySqliteToPostgres, MigrateRefused } from './copy-from-sqlite.ts';

interface MigrateFlags {
  from: string;
  to: string;
  dataDir?: string;
  passwordFile?: string;
}

async function migrate(flags: MigrateFlags): Promise<void> {
  const parsed = parseDatabaseUrl(flags.to, {
    ...(flags.passwordFile !== undefined ? { file: flags.passwordFile } : {}),
    ...(process.env.ASPIRE_DATABASE_PASSWORD !== undefined ? { env: process.env.ASPIRE_DATABASE_PASSWORD } : {}),
  });
  if (!parsed.ok) throw new ConfigError('flags', [`--to: ${parsed.problem}`]);
  // No server may write the source while it is copied.
  const release = acquirePidfile(join(flags.from, 'aspire.pid'));
  try {
    process.stderr.write(`aspire: migrate: ${join(flags.from, DB_FILE)} -> ${parsed.target.redacted}\n`);
    const report = await copySqliteToPostgres({
      fromDataDir: flags.from,
      to: parsed.target.connection,
      dbFile: DB_FILE,
      ...(flags.dataDir !== undefined ? { toDataDir: flags.dataDir } : {}),
    });
    for (const c of report.counts) process.stdout.write(`${c.table}\t${c.source}\t${c.target}\tok\n`);
    if (flags.dataDir !== undefined) {
      process.stdout.write(`package files\t${report.files}\tcopied to ${flags.dataDir} (SHA-256 checked)\n`);
      for (const t of report.copiedTrust) process.stdout.write(`${t}\tcopied to ${flags.dataDir}\n`);
    }
    process.stderr.write('aspire: migrate: done, every count matches\n');
  } catch (err) {
    if (err instanceof MigrateRefused) throw new ConfigError('migrate', [err.message]);
    throw err;
  } finally {
    release();
  }
}

export function addMigrateCommand(p: Command): void {
  p.command('migrate')
    .description('copy a single-node SQLite deployment into an empty PostgreSQL database and verify the counts')
    .requiredOption('--from <dir>', 'the data dir of the SQLite server (stopped)')
    .requiredOption(
      '--to <url>',
      'postgres://user@host:port/database (password: --password-file or ASPIRE_DATABASE_PASSWORD)',
    )
    .option('--data-dir <dir>', 'copy package files, signing key and host CA into this (shared) data dir')
    .option('--password-file <file>', 'file holding the database password')
    .action(migrate);
}
