/**
 * BootAgent endpoints (design.md §3): POST /agent/register and POST /agent/status. Bodies are
 * checked with the protocol package's validators, the same ones the agent uses.
 */
import { hash, randomUUID, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  API_PREFIX,
  AgentPath,
  CREDENTIAL_HEADER,
  HostStatus,
  ENROLL_HEADER,
  ErrorCode,
  ErrorMessage,
  registerRequest,
  statusRequest,
  type Job,
} from '@aspire/protocol';
import type { PartContext } from '../app-context.ts';
import type { HostStore } from '../store/host-store.ts';
import type { PackageStore } from '../store/package-store.ts';
import type { StatusIngestion } from '../store/status-ingestion.ts';
import type { PolicyPart } from '../store/store.ts';
import type { TaskStore } from '../store/task-store.ts';
import { ok, sendError } from '../http/envelope.ts';
import { TokenBucket } from '../http/rate-limit.ts';
import { newCredential, sameSecret, sha256Hex } from '../http/secrets.ts';
import { packageLink } from './agent-package.ts';
import { packageArch, packageOs } from '../packages-match.ts';
import { desiredState } from '../policy/desired-state.ts';
import { CsrError } from '../trust/host-ca.ts';
import { certificateFingerprint } from '../trust/cert-fingerprint.ts';

const docOnly = { validatorCompiler: () => () => true };

export function clientIp(request: FastifyRequest): string {
  const ip = request.socket.remoteAddress ?? '';
  return ip.startsWith('::ffff:') ? ip.slice(7) : ip;
}

function header(request: FastifyRequest, name: string): string | undefined {
  const v = request.headers[name];
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

/**
 * Whether a presented credential is the one whose SHA-256 (hex) is stored: one digest, compared
 * in constant time (what sameSecret(sha256Hex(given), stored) answers, with one hash instead of three).
 */
function credentialMatches(given: string, storedHex: string): boolean {
  const stored = Buffer.from(storedHex, 'hex');
  const digest = hash('sha256', given, 'buffer');
  return stored.length === digest.length && timingSafeEqual(stored, digest);
}

type AgentContext = PartContext<HostStore & StatusIngestion & TaskStore & PackageStore & PolicyPart>;

/** Routes in their registration order: register, signing key, status. */
export async function agentRoutes(app: FastifyInstance, ctx: AgentContext): Promise<void> {
  registerRegistration(app, ctx);
  registerSigningKey(app, ctx);
  registerStatus(app, ctx);
}

/** Over its bucket's rate: 429 with Retry-After (whole seconds, at least 1). */
const limited = (bucket: TokenBucket) => async (_req: FastifyRequest, reply: import('fastify').FastifyReply) => {
  const wait = bucket.take();
  if (wait > 0) {
    reply.header('retry-after', String(Math.max(1, Math.ceil(wait / 1000))));
    return sendError(reply, 'RATE_LIMITED', 'server busy; retry after the Retry-After seconds');
  }
};

function registerRegistration(app: FastifyInstance, ctx: AgentContext): void {
  const rate = ctx.config.rateLimit;
  app.post(
    AgentPath.REGISTER,
    {
      ...docOnly,
      onRequest: limited(new TokenBucket(rate.registerPerSec, rate.registerBurst, ctx.clock)),
      schema: {
        tags: ['agent'],
        summary: 'Register a BootAgent (design.md §3); returns the AgentSN to use and a per-host credential',
        description: `Needs header ${ENROLL_HEADER} when the server has enrollSecret. Body: RegisterRequest of @aspire/protocol.`,
        body: registerRequest.schema,
      },
    },
    async (request, reply) => {
      const v = registerRequest.validate(request.body);
      if (!v.ok) return sendError(reply, 'BAD_REQUEST', v.errors.join('; '));
      const secret = ctx.config.enrollSecret;
      if (secret !== undefined) {
        const given = header(request, ENROLL_HEADER);
        if (given === undefined || !sameSecret(given, secret))
          return sendError(reply, 'UNAUTHORIZED', `missing or wrong ${ENROLL_HEADER}`);
      }
      const csr = v.value.csr;
      if (csr !== undefined && ctx.hostCa) {
        // Checked before anything is stored: a refused CSR must not leave a new credential the agent never got.
        try {
          await ctx.hostCa.checkCsr(csr);
        } catch (err) {
          if (err instanceof CsrError) return sendError(reply, 'BAD_REQUEST', err.message);
          throw err;
        }
      }
      const presented = header(request, CREDENTIAL_HEADER);
      const credential = newCredential();
      const out = await ctx.store.register({
        agentsn: v.value.agentsn,
        hostname: v.value.hostname,
        ip: clientIp(request),
        version: v.value.version,
        os: v.value.os,
        arch: v.value.arch,
        presentedHash: presented === undefined ? undefined : sha256Hex(presented),
        newHash: sha256Hex(credential),
        freshAgentsn: randomUUID(),
        now: ctx.clock.now(),
      });
      if (out.refused === 'deleted') {
        request.log.warn(
          { agentsn: v.value.agentsn, hostname: v.value.hostname, ip: clientIp(request) },
          'registration refused: host deleted',
        );
        return sendError(
          reply,
          'FORBIDDEN',
          `host ${v.value.agentsn} was deleted; an operator must reset it (POST ${API_PREFIX}/host/<agentsn>/reset) before it can register again`,
        );
      }
      if (out.refused === 'takeover') {
        request.log.warn(
          { agentsn: v.value.agentsn, hostname: v.value.hostname, ip: clientIp(request) },
          'registration refused: agentsn already registered and the caller did not prove it is that host',
        );
        return sendError(
          reply,
          'CONFLICT',
          `agentsn ${v.value.agentsn} is already registered to ${v.value.hostname}: registering it again needs that host's ${CREDENTIAL_HEADER} or an operator reset (POST ${API_PREFIX}/host/<agentsn>/reset)`,
        );
      }
      if (out.conflict)
        request.log.info(
          { asked: v.value.agentsn, given: out.agentsn },
          'agentsn taken by another host; issued a fresh one',
        );
      // A client certificate for the command channel, bound to the agentsn answered (docs/security.md "Host identity").
      const issued =
        csr !== undefined && ctx.hostCa
          ? {
              cert: await ctx.hostCa.issue(csr, out.agentsn, ctx.clock.now(), ctx.config.hostCertLifetimeSec),
              caCert: ctx.hostCa.certPem,
            }
          : {};
      // From now on the hub accepts only this certificate for the host (older ones are void).
      if (issued.cert !== undefined)
        await ctx.store.recordHostCertificate(out.agentsn, certificateFingerprint(issued.cert), false);
      return reply.send(
        ok({ agentsn: out.agentsn, tags: out.tags, credential, ...issued, ...ctx.signing.announcement }),
      );
    },
  );
}

function registerSigningKey(app: FastifyInstance, ctx: AgentContext): void {
  app.get(
    AgentPath.SIGNING_KEY,
    {
      schema: {
        tags: ['agent'],
        summary:
          "The server's Ed25519 signing key (base64 SPKI DER) and, during a rotation, the next key endorsed by it",
      },
    },
    async () => ok({ kid: ctx.signing.signer.kid, ...ctx.signing.announcement }),
  );
}

function registerStatus(app: FastifyInstance, ctx: AgentContext): void {
  const rate = ctx.config.rateLimit;
  app.post(
    AgentPath.STATUS,
    {
      ...docOnly,
      onRequest: limited(new TokenBucket(rate.statusPerSec, rate.statusBurst, ctx.clock)),
      schema: {
        tags: ['agent'],
        summary: "Status push (design.md §3): host state, job results, events; answered with the host's pending jobs",
        description: `Needs header ${CREDENTIAL_HEADER} (from /agent/register). Body: StatusRequest of @aspire/protocol.`,
        body: statusRequest.schema,
      },
    },
    async (request, reply) => {
      const v = statusRequest.validate(request.body);
      if (!v.ok) return sendError(reply, 'BAD_REQUEST', v.errors.join('; '));
      const body = v.value;
      const given = header(request, CREDENTIAL_HEADER);
      const stored = await ctx.store.credentialHash(body.agentsn);
      if (given === undefined || stored === undefined || !credentialMatches(given, stored)) {
        return sendError(
          reply,
          'UNAUTHORIZED',
          `missing or wrong ${CREDENTIAL_HEADER} for this agentsn; register first`,
        );
      }
      const now = ctx.clock.now();
      const started = ctx.clock.monotonic();
      // Looked up before the push is stored: a push brings a deleted host back online, a renewal must not.
      const deletedBeforePush =
        body.csr !== undefined && (await ctx.store.hostIdentity(body.agentsn))?.status === HostStatus.DELETED;
      const out = await ctx.store.ingestStatus({
        agentsn: body.agentsn,
        hostname: body.hostname,
        ip: clientIp(request),
        version: body.version,
        os: body.os,
        arch: body.arch,
        uptime: body.uptime,
        step: body.step,
        agents: body.agents,
        jobs: body.jobs,
        events: body.events,
        eventsDropped: body.eventsDropped,
        tags: body.tags,
        now,
      });
      const jobs = await signedJobs(request, ctx, out, body.agentsn, now);
      // Revoked while RESERVED here (docs/server.md "Revoking RESERVED subtasks"): told on every
      // reply until the host's result arrives (this push's results are stored above, so a job it
      // just answered is no longer listed); each entry signed for this host like a job. A store
      // that read them with a quiet push gives them in out.revoked, saving the read here.
      const revoke = (out.revoked ?? (await ctx.store.revokedReserved(body.agentsn))).map((r) =>
        ctx.signing.signer.sign('revoke', { id: r.jobid }, body.agentsn, now + ctx.config.signedJobSec * 1000),
      );
      const renewed =
        body.csr !== undefined ? await renewCertificate(request, ctx, body.agentsn, body.csr, deletedBeforePush) : {};
      // The self-report counts until the host would be offline (its step times the missed steps allowed).
      ctx.metrics.statusPush(
        (ctx.clock.monotonic() - started) / 1000,
        body.agentsn,
        body.self,
        body.step * ctx.config.offlineMissedSteps * 1000,
      );
      // The host's effective desired-state policy hash (docs/lifecycle.md "Desired state"): a host that
      // applied another one pulls GET /api/v1/agent/policy.
      const policy = { hash: await desiredState(ctx.store, ctx.clock).hashFor(body.agentsn, body.tags) };
      return reply.send(
        ok({ jobs, ...(revoke.length > 0 ? { revoke } : {}), ...renewed, ...ctx.signing.announcement, policy }),
      );
    },
  );
}

/**
 * The jobs of a status reply: the subtasks reserved for this host, an uploaded package resolved
 * to a signed link for its os and arch (none: the subtask fails TASK_NO_PACKAGE), each job signed.
 */
async function signedJobs(
  request: FastifyRequest,
  ctx: AgentContext,
  out: Awaited<ReturnType<AgentContext['store']['ingestStatus']>>,
  agentsn: string,
  now: number,
): Promise<Job[]> {
  const jobs: Job[] = [];
  for (const r of out.reserved) {
    const job: Job & Record<string, unknown> = { ...r.parameters, id: r.jobid, action: r.command };
    const p = r.parameters;
    if (
      (r.command === 'install' || r.command === 'upgrade') &&
      p.url === undefined &&
      typeof p.name === 'string' &&
      typeof p.version === 'string'
    ) {
      const os = packageOs(out.host.os);
      const arch = packageArch(out.host.arch);
      const pkg = await ctx.store.findPackage(p.name, p.version, os, arch);
      if (!pkg) {
        await ctx.store.failReserved(
          r.jobid,
          ErrorCode.TASK_NO_PACKAGE,
          `${ErrorMessage.TASK_NO_PACKAGE}: ${p.name} ${p.version} ${os}/${arch}`,
          now,
        );
        continue;
      }
      job.url = packageLink(request, ctx, pkg, agentsn, now);
      job.checksum = `SHA256:${pkg.sha256}`;
    }
    // Signed for this host, valid signedJobSec (docs/security.md "Signed jobs and command frames").
    jobs.push(ctx.signing.signer.sign('job', job, agentsn, now + ctx.config.signedJobSec * 1000));
  }
  return jobs;
}

/**
 * Certificate renewal through the status push (docs/security.md "Host identity"): the push was
 * authenticated by the host's credential; a deleted host, or a bad CSR, gets no certificate
 * (logged), and the push itself is still answered (it carries job results).
 */
async function renewCertificate(
  request: FastifyRequest,
  ctx: AgentContext,
  agentsn: string,
  csr: string,
  deleted: boolean,
): Promise<{ cert?: string; caCert?: string }> {
  if (!ctx.hostCa) return {};
  if (deleted) {
    request.log.warn({ agentsn }, 'certificate renewal refused: host deleted');
    return {};
  }
  try {
    const cert = await ctx.hostCa.issue(csr, agentsn, ctx.clock.now(), ctx.config.hostCertLifetimeSec);
    // The previous one stays accepted: the BasicAgent presents it until it reconnects.
    await ctx.store.recordHostCertificate(agentsn, certificateFingerprint(cert), true);
    request.log.info({ agentsn }, 'host certificate renewed');
    return { cert, caCert: ctx.hostCa.certPem };
  } catch (err) {
    if (!(err instanceof CsrError)) throw err;
    request.log.warn({ agentsn, err: err.message }, 'certificate renewal refused: bad csr');
    return {};
  }
}
