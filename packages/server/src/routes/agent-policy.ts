/**
 * GET /api/v1/agent/policy?agentsn=SN (docs/lifecycle.md "Desired state"): a host's effective
 * policy for its BootAgent, authenticated like the status push (the host's credential header
 * for that agentsn). The whole answer is signed for the host with purpose `policy`
 * (packages/protocol/src/signing.ts), so the agent checks it with verifySigned('policy', body).
 * Sub-agents of a registered package get `run.url` (a signed package link for this host's os and
 * arch) and `run.checksum`; the hash is of the policy as written, the same as in status replies.
 */
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { AgentPath, CREDENTIAL_HEADER, type EffectiveSubagent } from '@aspire/protocol';
import type { PartContext } from '../app-context.ts';
import type { HostStore } from '../store/host-store.ts';
import type { PackageStore } from '../store/package-store.ts';
import type { PolicyPart } from '../store/store.ts';
import { ok, sendError } from '../http/envelope.ts';
import { TokenBucket } from '../http/rate-limit.ts';
import { sameSecret, sha256Hex } from '../http/secrets.ts';
import { packageArch, packageOs } from '../packages-match.ts';
import { desiredState } from '../policy/desired-state.ts';
import { packageLink } from './agent-package.ts';

const Query = Type.Object({ agentsn: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false });

export async function agentPolicyRoutes(
  app: FastifyInstance,
  ctx: PartContext<HostStore & PackageStore & PolicyPart>,
): Promise<void> {
  // A policy change makes the whole fleet pull at its next push: the same budget as status pushes
  // (its own bucket), so a fleet is told to come back (429, Retry-After) rather than pile up.
  const bucket = new TokenBucket(ctx.config.rateLimit.statusPerSec, ctx.config.rateLimit.statusBurst, ctx.clock);
  app.get<{ Querystring: Static<typeof Query> }>(
    AgentPath.POLICY,
    {
      onRequest: async (_req, reply) => {
        const wait = bucket.take();
        if (wait > 0) {
          reply.header('retry-after', String(Math.max(1, Math.ceil(wait / 1000))));
          return sendError(reply, 'RATE_LIMITED', 'server busy; retry after the Retry-After seconds');
        }
      },
      schema: {
        tags: ['agent'],
        summary: "The host's effective desired-state policy, signed for it (purpose policy)",
        description: `Needs header ${CREDENTIAL_HEADER} of the agentsn asked for, as the status push.`,
        querystring: Query,
      },
    },
    async (request, reply) => {
      const sn = request.query.agentsn;
      const given = request.headers[CREDENTIAL_HEADER];
      const stored = await ctx.store.credentialHash(sn);
      if (typeof given !== 'string' || stored === undefined || !sameSecret(sha256Hex(given), stored))
        return sendError(
          reply,
          'UNAUTHORIZED',
          `missing or wrong ${CREDENTIAL_HEADER} for this agentsn; register first`,
        );
      const host = await ctx.store.getHost(sn);
      if (!host || host.status === 'deleted') return sendError(reply, 'FORBIDDEN', `host ${sn} was deleted`);
      const eff = await desiredState(ctx.store, ctx.clock).effectiveFor(sn);
      const now = ctx.clock.now();
      const subagents: (EffectiveSubagent & { unavailable?: string })[] = [];
      for (const e of eff.policy.subagents) {
        if (e.run.url !== undefined) {
          subagents.push(e);
          continue;
        }
        const os = packageOs(host.os ?? '');
        const arch = packageArch(host.arch ?? '');
        const pkg = await ctx.store.findPackage(e.name, e.version, os, arch);
        if (!pkg) subagents.push({ ...e, unavailable: `no package ${e.name} ${e.version} for ${os}/${arch}` });
        else
          subagents.push({
            ...e,
            run: { ...e.run, url: packageLink(request, ctx, pkg, sn, now), checksum: `SHA256:${pkg.sha256}` },
          });
      }
      const answer = ok({ hash: eff.hash, subagents, periodic: eff.policy.periodic, origin: eff.origin });
      return reply.send(ctx.signing.signer.sign('policy', answer, sn, now + ctx.config.signedJobSec * 1000));
    },
  );
}
