import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseHostPolicy, silentLogger } from '@aspire/agent-core';
import { ErrorCode, operatorPublicKeyBase64, signOperatorCommand } from '@aspire/protocol';
import { ManualClock } from '@aspire/testing';
import { OperatorNonceCache } from '../src/agent/operator-nonce-cache.ts';
import {
  checkCollectorPolicy,
  checkSyncBashPolicy,
  checkTaskAddSignature,
  type PolicyGateDeps,
} from '../src/agent/policy-gate.ts';

const SN = 'sn-policy-1';
const op = generateKeyPairSync('ed25519');
const clock = new ManualClock();
const now = Math.floor(clock.now() / 1000);

function gate(policy: object): PolicyGateDeps {
  return {
    policy: parseHostPolicy(JSON.stringify(policy), '/etc/basicagent/policy.json'),
    clock,
    logger: silentLogger(),
    agentsn: () => SN,
    nonces: new OperatorNonceCache(),
  };
}

describe('policy gate (the host-policy step of a channel request)', () => {
  it('sync.bash: allowed passes; command and user refusals are POLICY_REFUSED naming the rule', () => {
    const g = gate({ commands: [{ exact: 'uptime' }], users: ['root'] });
    const frame = { id: 'a', method: 'sync.bash', cmd: 'uptime' };
    expect(checkSyncBashPolicy(frame, frame, g)).toBeUndefined();
    expect(checkSyncBashPolicy(frame, { id: 'b', cmd: 'id' }, g)).toMatchObject({
      id: 'b',
      resp: 'failed',
      retcode: ErrorCode.POLICY_REFUSED,
      message: expect.stringContaining('command "id"'),
    });
    expect(checkSyncBashPolicy(frame, { id: 'c', cmd: 'uptime', user: 'nobody' }, g)).toMatchObject({
      retcode: ErrorCode.POLICY_REFUSED,
      message: expect.stringContaining('user "nobody"'),
    });
  });

  it('getinfo: only listed collectors', () => {
    const g = gate({ collectors: ['kernel'] });
    expect(checkCollectorPolicy('a', 'getinfo.kernel', g)).toBeUndefined();
    expect(checkCollectorPolicy('b', 'getinfo.users', g)).toMatchObject({
      retcode: ErrorCode.POLICY_REFUSED,
      message: expect.stringContaining('collector "users"'),
    });
  });

  it('operator-signature mode: sync.bash and task.add need an opsig from a listed key, over this command, for this host, unexpired', async () => {
    const g = gate({ requireOperatorSignature: true, operatorKeys: [operatorPublicKeyBase64(op.publicKey)] });
    const cmd = { cmd: 'uptime', user: 'root', timeout: 30 };
    const unsigned = { id: 'a', method: 'sync.bash', ...cmd };
    expect(checkSyncBashPolicy(unsigned, unsigned, g)).toMatchObject({
      retcode: ErrorCode.POLICY_OPERATOR_SIGNATURE,
      message: expect.stringContaining('no operator signature'),
    });
    const opsig = signOperatorCommand(op.privateKey, { method: 'sync.bash', ...cmd }, [SN], now + 60);
    // Another timeout than the signed one does not verify (and uses up no nonce).
    const longer = { ...unsigned, id: 'a0', timeout: 3600, opsig };
    expect(checkSyncBashPolicy(longer, longer, g)).toMatchObject({
      retcode: ErrorCode.POLICY_OPERATOR_SIGNATURE,
      message: expect.stringContaining('does not verify'),
    });
    const signed = { ...unsigned, opsig };
    expect(checkSyncBashPolicy(signed, signed, g)).toBeUndefined();
    // The same signature again, in a new frame (new id): a replay, refused.
    const replay = { ...signed, id: 'a2' };
    expect(checkSyncBashPolicy(replay, replay, g)).toMatchObject({
      retcode: ErrorCode.POLICY_OPERATOR_SIGNATURE,
      message: expect.stringContaining('already used'),
    });
    await clock.advance(61_000);
    const late = {
      ...unsigned,
      opsig: signOperatorCommand(op.privateKey, { method: 'sync.bash', ...cmd }, [SN], now + 60),
    };
    expect(checkSyncBashPolicy(late, late, g)).toMatchObject({
      retcode: ErrorCode.POLICY_OPERATOR_SIGNATURE,
      message: expect.stringContaining('expired'),
    });
    const line = '0 * * * * * root uptime';
    const task = {
      id: 't',
      method: 'task.add',
      name: 'up',
      line,
      opsig: signOperatorCommand(op.privateKey, { method: 'task.add', name: 'up', line }, [SN], now + 600),
    };
    expect(checkTaskAddSignature(task, { ...task, line: '0 * * * * * root id' }, g)).toMatchObject({
      retcode: ErrorCode.POLICY_OPERATOR_SIGNATURE,
    });
    expect(checkTaskAddSignature(task, { ...task, name: 'other-name' }, g)).toMatchObject({
      retcode: ErrorCode.POLICY_OPERATOR_SIGNATURE,
      message: expect.stringContaining('does not verify'),
    });
    expect(checkTaskAddSignature(task, task, g)).toBeUndefined();
    expect(checkTaskAddSignature({ ...task, id: 't2' }, { ...task, id: 't2' }, g)).toMatchObject({
      retcode: ErrorCode.POLICY_OPERATOR_SIGNATURE,
      message: expect.stringContaining('already used'),
    });
  });

  it('no signature mode: task.add passes the gate (its command is checked by PeriodicTasks)', () => {
    const g = gate({ commands: [] });
    expect(checkTaskAddSignature({}, { id: 't', name: 't', line: '0 * * * * * root id' }, g)).toBeUndefined();
  });
});
