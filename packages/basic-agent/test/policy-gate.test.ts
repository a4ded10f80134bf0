import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseHostPolicy, silentLogger } from '@aspire/agent-core';
import { ErrorCode, operatorPublicKeyBase64, signOperatorCommand } from '@aspire/protocol';
import { ManualClock } from '@aspire/testing';
import { checkCollectorPolicy, checkSyncBashPolicy, checkTaskAddSignature, type PolicyGateDeps } from '../src/agent/policy-gate.ts';

const SN = 'sn-policy-1';
const op = generateKeyPairSync('ed25519');
const clock = new ManualClock();
const now = Math.floor(clock.now() / 1000);

function gate(policy: object): PolicyGateDeps {
  return { policy: parseHostPolicy(JSON.stringify(policy), '/etc/basicagent/policy.json'), clock, logger: silentLogger(), agentsn: () => SN };
}

describe('policy gate (the host-policy step of a channel request)', () => {
  it('sync.bash: allowed passes; command and user refusals are POLICY_REFUSED naming the rule', () => {
    const g = gate({ commands: [{ exact: 'uptime' }], users: ['root'] });
    const frame = { id: 'a', method: 'sync.bash', cmd: 'uptime' };
    expect(checkSyncBashPolicy(frame, frame, g)).toBeUndefined();
    expect(checkSyncBashPolicy(frame, { id: 'b', cmd: 'id' }, g)).toMatchObject({ id: 'b', resp: 'failed', retcode: ErrorCode.POLICY_REFUSED, message: expect.stringContaining('command "id"') });
    expect(checkSyncBashPolicy(frame, { id: 'c', cmd: 'uptime', user: 'nobody' }, g)).toMatchObject({ retcode: ErrorCode.POLICY_REFUSED, message: expect.stringContaining('user "nobody"') });
  });

  it('getinfo: only listed collectors', () => {
    const g = gate({ collectors: ['kernel'] });
    expect(checkCollectorPolicy('a', 'getinfo.kernel', g)).toBeUndefined();
    expect(checkCollectorPolicy('b', 'getinfo.users', g)).toMatchObject({ retcode: ErrorCode.POLICY_REFUSED, message: expect.stringContaining('collector "users"') });
  });

  it('operator-signature mode: sync.bash and task.add need an opsig from a listed key, over this command, for this host, unexpired', async () => {
    const g = gate({ requireOperatorSignature: true, operatorKeys: [operatorPublicKeyBase64(op.publicKey)] });
    const cmd = { cmd: 'uptime', user: 'root' };
    const unsigned = { id: 'a', method: 'sync.bash', ...cmd };
    expect(checkSyncBashPolicy(unsigned, unsigned, g)).toMatchObject({ retcode: ErrorCode.POLICY_OPERATOR_SIGNATURE, message: expect.stringContaining('no operator signature') });
    const signed = { ...unsigned, opsig: signOperatorCommand(op.privateKey, cmd, [SN], now + 60) };
    expect(checkSyncBashPolicy(signed, signed, g)).toBeUndefined();
    await clock.advance(61_000);
    expect(checkSyncBashPolicy(signed, signed, g)).toMatchObject({ retcode: ErrorCode.POLICY_OPERATOR_SIGNATURE, message: expect.stringContaining('expired') });
    const line = '0 * * * * * root uptime';
    const task = { id: 't', method: 'task.add', name: 'up', line, opsig: signOperatorCommand(op.privateKey, { cmd: line }, [SN], now + 600) };
    expect(checkTaskAddSignature(task, task, g)).toBeUndefined();
    expect(checkTaskAddSignature(task, { ...task, line: '0 * * * * * root id' }, g)).toMatchObject({ retcode: ErrorCode.POLICY_OPERATOR_SIGNATURE });
  });

  it('no signature mode: task.add passes the gate (its command is checked by PeriodicTasks)', () => {
    const g = gate({ commands: [] });
    expect(checkTaskAddSignature({}, { id: 't', line: '0 * * * * * root id' }, g)).toBeUndefined();
  });
});
