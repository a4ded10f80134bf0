/**
 * Enrollment: the metafile when it is there and trusted, else registering (POST /agent/register
 * until a server answers; trusted only after a status push is answered), with the host's CSR so
 * the server answers a client certificate for the command channel. Also owns `servers` of
 * boot.json as refreshed while no server is known at all.
 */
import { randomUUID } from 'node:crypto';
import { renameSync } from 'node:fs';
import { unixSeconds, type Clock } from '@aspire/agent-core';
import type { RegisterReply } from '@aspire/protocol';
import type { Logger } from 'pino';
import type { BootConfig } from '../config/boot-config.ts';
import type { HostIdentity } from '../identity/host-identity.ts';
import type { Transport } from '../net/http-transport.ts';
import { rotateFor } from '../net/server-choice.ts';
import { checkServerList, serverGroups } from '../net/server-list.ts';
import type { KeyAnnouncements } from '../state/key-announcements.ts';
import { MetaStore, metaPath, readMeta, settleWithConfig, type MetaFile } from '../state/meta-store.ts';
import { registerUntilDone } from './registrar.ts';
import { bootVersionString, machineArch, osString } from './status-body.ts';

export interface EnrollmentDeps {
  config: Readonly<BootConfig>;
  stateDir: string;
  clock: Clock;
  log: Logger;
  identity: HostIdentity;
  hostname: string;
  buildServers: string;
  /** -S as given (used on first start only). */
  serverFlag?: string;
  reloadConfiguredServers?: () => readonly string[] | undefined;
  setState: (s: 'registering') => void;
  onSigningKeys: KeyAnnouncements;
  transport: Transport;
}

/** A server's answer to a registration. */
export interface Registered {
  server: string;
  reply: RegisterReply;
}

export class Enrollment {
  /** `servers` of boot.json: from the checked config, refreshed while no server is known at all. */
  private configured: readonly string[];

  constructor(private readonly d: EnrollmentDeps) {
    this.configured = d.config.servers;
  }

  configuredServers(): readonly string[] {
    return this.configured;
  }

  /** Metafile present and trusted: use it. Otherwise register. Undefined when the signal aborts first. */
  async loadOrRegister(signal: AbortSignal): Promise<MetaStore | undefined> {
    const { d } = this;
    const { config, stateDir, log } = d;
    const read = readMeta(stateDir);
    let base: MetaFile | undefined;
    if (read.kind === 'ok') {
      base = read.meta;
      if (d.serverFlag !== undefined)
        log.info({ ignored: d.serverFlag }, "-S is used on first start only; the metafile's server list is kept");
      base = settleWithConfig(base, config);
      if (base.trusted) {
        const store = new MetaStore(stateDir, base);
        if (JSON.stringify(base) !== JSON.stringify(read.meta)) {
          await store.update({}).catch((err: unknown) => log.error({ err }, 'cannot write the metafile'));
        }
        return store;
      }
      log.info({ agentsn: base.agentsn }, 'agentsn not yet confirmed by a status push: registering again');
    } else if (read.kind === 'corrupt') {
      const aside = `${metaPath(stateDir)}.corrupt-${Date.now()}`;
      try {
        renameSync(metaPath(stateDir), aside);
      } catch {
        /* best effort: it is rewritten below either way */
      }
      log.error({ error: read.error, movedTo: aside }, 'metafile unreadable: treating this as a first start');
    }
    let servers: string[] = base?.servers ?? [];
    if (!base && d.serverFlag !== undefined) {
      const parsed = checkServerList(d.serverFlag);
      // main.ts rejects a bad -S before we get here; this is the factory's own guard.
      if (!parsed.ok) throw new Error(`-S: ${parsed.error}`);
      servers = parsed.entries;
    }
    const proposed = base?.agentsn ?? randomUUID();
    d.setState('registering');
    const reg = await this.register(signal, this.firstServers(servers, base, proposed), proposed, base?.credential);
    if (!reg) return undefined;
    return this.saveRegistration(reg, servers, base);
  }

  /** The first registration's servers, from the proposed agentsn's place in each source, as its pushes will. */
  private firstServers(servers: string[], base: MetaFile | undefined, proposed: string): () => string[] {
    const d = this.d;
    // (net/server-choice.ts): a fleet enrolling at once spreads its registrations (and their certificates) over the nodes.
    const urls = () =>
      serverGroups({
        build: d.buildServers,
        servers,
        configured: this.configured,
        pushed: base?.pushedServers ?? [],
      }).flatMap((g) => rotateFor(g, proposed));
    return () => {
      const now = urls();
      if (now.length > 0 || !d.reloadConfiguredServers) return now;
      // Waiting for a first server: an operator may just have written it into boot.json.
      const fresh = d.reloadConfiguredServers();
      if (fresh && fresh.length > 0) {
        this.configured = fresh;
        d.log.info({ servers: fresh }, 'boot.json now names a server');
      }
      return urls();
    };
  }

  private async saveRegistration(reg: Registered, servers: string[], base: MetaFile | undefined): Promise<MetaStore> {
    const { config, clock, stateDir, log } = this.d;
    const { reply } = reg;
    let meta: MetaFile = settleWithConfig(
      {
        version: 1,
        agentsn: reply.agentsn,
        servers,
        pushedServers: base?.pushedServers ?? [],
        trusted: false,
        registeredAt: unixSeconds(clock),
        step: base?.step ?? config.step,
        stepFrom: base?.stepFrom ?? 'config',
        ...(base?.tags !== undefined ? { tags: base.tags, tagsFrom: base.tagsFrom ?? 'server' } : {}),
      },
      config,
    );
    if (reply.credential !== undefined) meta.credential = reply.credential;
    else if (base?.credential !== undefined) meta.credential = base.credential;
    // Tags the server hands out at registration (docs/boot-agent.md) are the server's.
    if (reply.tags) meta = { ...meta, tags: reply.tags, tagsFrom: 'server' };
    const store = new MetaStore(stateDir, meta);
    // Unwritten (full disk), the registration is repeated on the next start; the agent goes on meanwhile.
    await store.update({}).catch((err: unknown) => log.error({ err }, 'cannot write the metafile'));
    log.info({ agentsn: meta.agentsn, server: reg.server }, 'registered');
    return store;
  }

  /** POST /agent/register until a server answers (undefined when the signal aborts first). */
  async register(
    signal: AbortSignal,
    servers: () => string[],
    proposed: string,
    credential: string | undefined,
  ): Promise<Registered | undefined> {
    const { d } = this;
    const { config, clock, log, identity } = d;
    // The server answers a client certificate for this CSR (bound to the agentsn it answers).
    const csr = await identity.csr(proposed).catch((err: unknown) => {
      log.error({ err }, 'cannot make the host key or its CSR: registering without a client certificate');
      return undefined;
    });
    const reg = await registerUntilDone({
      clock,
      logger: log,
      transport: d.transport,
      servers,
      request: {
        hostname: d.hostname,
        agentsn: proposed,
        version: bootVersionString(),
        os: osString(),
        arch: machineArch(),
        ...(csr ? { csr } : {}),
      },
      ...(config.enrollSecret ? { enrollSecret: config.enrollSecret } : {}),
      ...(credential ? { credential } : {}),
      freshAgentsn: () => randomUUID(),
      signal,
    }).catch((err: unknown) => {
      if (signal.aborted) return undefined;
      throw err;
    });
    if (reg && reg.reply.agentsn !== proposed)
      log.warn({ proposed, adopted: reg.reply.agentsn }, 'server answered another agentsn (conflict): adopted');
    if (reg) d.onSigningKeys(reg.reply);
    if (reg?.reply.cert) await this.saveCertificate(reg.reply.cert, reg.reply.caCert);
    else if (reg && csr) {
      identity.declined(clock.now());
      log.warn(
        { agentsn: reg.reply.agentsn },
        'the server issued no client certificate (no host CA?): the BasicAgent cannot join its command hub',
      );
    }
    return reg;
  }

  private async saveCertificate(cert: string, caCert: string | undefined): Promise<void> {
    const { identity, log } = this.d;
    await identity.save(cert, caCert).then(
      () => log.info({ file: identity.files.cert }, 'host certificate saved'),
      (err: unknown) => log.error({ err }, 'cannot write the host certificate'),
    );
  }
}
