/**
 * The operator CLI: client commands of the `aspire` binary against a running server's REST API
 * (docs/cli.md). `aspire token create|list|revoke` are registered by token-cli.ts: on a local data
 * dir there, through the server with token-command.ts otherwise.
 */
import type { Command } from 'commander';
import { addAuditCommand } from './audit-command.ts';
import { addHostsCommand } from './hosts-command.ts';
import { addPackageCommands } from './package-command.ts';
import { addPolicyCommands } from './policy-command.ts';
import { addRunCommand } from './run-command.ts';
import { addTagCommands } from './tag-command.ts';
import { addTaskCommands } from './task-command.ts';

export function addClientCommands(program: Command): void {
  addHostsCommand(program);
  addRunCommand(program);
  addTaskCommands(program);
  addPackageCommands(program);
  addTagCommands(program);
  addAuditCommand(program);
  addPolicyCommands(program);
}
