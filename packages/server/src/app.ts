/**
 * buildServer(deps): the Aspire server as a fastify instance plus its background jobs
 * (scheduler, offline sweep, dashboard), apart from listen() so tests can use app.inject().
 *
 * Routes: agent endpoints under /agent/ (credential auth), operator REST under /api/v1/server
 * (Bearer token), the OpenAPI document at /api/v1/server/openapi.json (public: no data).
 */
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyPluginAsync,
  type FastifySchema,
} from 'fastify';
import swagger from '@fastify/swagger';
import { VERSION, type Clock } from '@aspire/agent-core';
import { API_PREFIX } from '@aspire/protocol';
import type { Logger } from 'pino';
import type { AppContext } from './app-context.ts';
import type { ServerConfig } from './config.ts';
import { installAudit } from './http/audit.ts';
import { installEnvelopeHandlers } from './http/envelope.ts';
import { installFiniteNumberCheck } from './http/finite-numbers.ts';
import { installJsonBodyParser } from './http/json-body.ts';
import { operatorAuth } from './http/operator-auth.ts';
import { requestLoggerFactory } from './http/request-logger.ts';
import { Periodic } from './periodic.ts';
import { registerConsole } from './console/route.ts';
import { consoleApiRoutes } from './console-api/routes.ts';
import { agentRoutes } from './routes/agent.ts';
import { agentPackageRoutes } from './routes/agent-package.ts';
import { agentPolicyRoutes } from './routes/agent-policy.ts';
import { auditRoutes } from './routes/audit.ts';
import { hostRoutes } from './routes/hosts.ts';
import { inventoryRoutes } from './routes/inventory.ts';
import { packageRoutes } from './routes/packages.ts';
import { policyRoutes } from './routes/policy.ts';
import { taskRoutes } from './routes/tasks.ts';
import { tokenRoutes } from './routes/tokens.ts';
import { metricsRoute } from './routes/metrics.ts';
import { instrumentStore } from './metrics/instrument-store.ts';
import { ServerMetrics } from './metrics/server-metrics.ts';
import type { Dashboard, Store } from './store/store.ts';
import { loadServerSigning, type ServerSigning } from './trust/signing-key.ts';
import type { HostCa } from './trust/host-ca.ts';

export interface ServerDeps {
  store: Store;
  clock: Clock;
  logger: Logger;
  config: Readonly<ServerConfig>;
  version?: string;
  /** PEM key and certificate: serve HTTPS (main.ts reads the files named by tlsKey/tlsCert). */
  https?: { key: Buffer; cert: Buffer };
  /**
   * Extra operator routes (e.g. the command hub's Polaris API), registered under
   * /api/v1/server behind operator auth. Keep this seam stable: other packages plug in here.
   */
  operatorPlugins?: FastifyPluginAsync[];
  /** The job/frame signing key; default loaded (or made) from config.signingKeys / the data dir. */
  signing?: ServerSigning;
  /** The host CA (trust/host-ca.ts): issues hosts' client certificates for the command channel. */
  hostCa?: HostCa;
  /**
   * Several nodes (cluster/cluster.ts): true on the one node that runs this period's pass of a
   * periodic job (task scheduler tick, offline detection, retention). Absent: every pass runs here (one node).
   */
  sweepGate?: (name: string, periodMs: number) => Promise<boolean>;
  /** Prometheus metrics (GET /metrics); main.ts passes one the command hub feeds too. Default: a fresh one. */
  metrics?: ServerMetrics;
  /** The command hub's way to close a host's live channel (host deleted or reset). */
  closeHostChannel?: (agentsn: string, reason: string) => boolean;
}

export interface AspireServer {
  app: FastifyInstance;
  ctx: AppContext;
  /** Every route registered (method, full url), for tests that iterate them. */
  routes: readonly { method: string; url: string }[];
  /** Start the background jobs (call after listen, or not at all in a unit test). */
  start(): void;
  /** Run one scheduler pass and one offline sweep now (tests, and after a restart). */
  runOnce(): Promise<void>;
  /** Stop the background jobs and close the fastify instance (the store stays open). */
  stop(): Promise<void>;
}

export const OPENAPI_PATH = `${API_PREFIX}/openapi.json`;

/**
 * The envelope as the OpenAPI response of every JSON route: the three fields every answer has,
 * plus whatever the route adds (additionalProperties, so serialization drops nothing).
 */
const ENVELOPE = {
  type: 'object',
  description: 'design.md §5 envelope: status 0 = success, else a status of docs/errors.md; the route adds its fields',
  properties: { status: { type: 'integer' }, message: { type: 'string' }, cause: { type: 'string' } },
  additionalProperties: true,
} as const;
const ENVELOPE_RESPONSES = { 200: ENVELOPE, '4xx': ENVELOPE, '5xx': ENVELOPE };

/** A route's schema with the envelope as every response it does not describe itself (http/response-schemas.ts). */
function withEnvelope(schema: FastifySchema | undefined): FastifySchema {
  const own = (schema?.response ?? {}) as Record<string, unknown>;
  return { ...(schema ?? {}), response: { ...ENVELOPE_RESPONSES, ...own } };
}

export async function buildServer(deps: ServerDeps): Promise<AspireServer> {
  const { clock, config } = deps;
  const metrics = deps.metrics ?? new ServerMetrics(clock);
  metrics.countFrom(deps.store);
  // Every store call is timed for aspire_store_operation_duration_seconds.
  const store = instrumentStore(deps.store, clock, (op, s) => metrics.storeCall(op, s));
  const app = createFastify(deps);
  installEnvelopeHandlers(app);
  installJsonBodyParser(app);
  installFiniteNumberCheck(app);
  const routes: { method: string; url: string }[] = [];
  app.addHook('onRoute', (r) => {
    for (const m of [r.method].flat()) routes.push({ method: m, url: r.url });
  });
  const jobs = backgroundJobs(deps, store);
  const ctx = await appContext(deps, store, metrics, jobs);
  await registerOpenApi(app, deps);
  await registerAgentRoutes(app, ctx);
  app.get(OPENAPI_PATH, { schema: { hide: true } }, async () => app.swagger());
  // Prometheus text at /metrics: operator token (viewer) or the scrape token (docs/metrics.md).
  await metricsRoute(app, ctx);
  // The web console at / (public page; packages/server/src/console).
  registerConsole(app);

  await registerOperatorApi(app, ctx, deps);

  return {
    app,
    ctx,
    routes,
    start() {
      jobs.scheduler.start();
      jobs.sweeper.start();
      jobs.retention.start();
      jobs.retention.trigger();
      jobs.dashboardJob.start();
      jobs.dashboardJob.trigger();
    },
    async runOnce() {
      await store.tick(clock.now());
      await store.markOffline(clock.now(), config.offlineMissedSteps);
      jobs.latest.dashboard = await store.computeDashboard(clock.now());
    },
    async stop() {
      await Promise.all([jobs.scheduler.stop(), jobs.sweeper.stop(), jobs.retention.stop(), jobs.dashboardJob.stop()]);
      await app.close();
    },
  };
}

function createFastify(deps: ServerDeps): FastifyInstance {
  const { config, logger } = deps;
  return Fastify({
    ...(deps.https ? { https: deps.https } : {}),
    loggerInstance: logger as FastifyBaseLogger,
    // One line per request would be 10,000 hosts x every step: only errors are logged.
    logController: new LogController({ disableRequestLogging: true }),
    childLoggerFactory: requestLoggerFactory(logger as FastifyBaseLogger),
    bodyLimit: config.bodyLimitBytes,
    trustProxy: false,
    // Unknown fields are refused (additionalProperties: false answers 400), never silently dropped.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: false } },
  });
}

type BackgroundJobs = ReturnType<typeof backgroundJobs>;

/** The periodic work (scheduler, offline sweep, retention, dashboard); started by AspireServer.start(). */
function backgroundJobs(deps: ServerDeps, store: Store) {
  const { clock, config, logger } = deps;
  const latest: { dashboard?: Dashboard } = {};
  const claimed = async (name: string, periodMs: number) => (deps.sweepGate ? deps.sweepGate(name, periodMs) : true);
  // Timed passes run once per period across a cluster (claimed); a triggered pass (a task
  // created or kicked on this node) runs here at once so its subtasks need not wait a period.
  const scheduler = new Periodic(
    'scheduler',
    clock,
    config.schedulerIntervalMs,
    async (why) => {
      if (why === 'timer' && !(await claimed('scheduler', config.schedulerIntervalMs))) return;
      await store.tick(clock.now());
    },
    logger,
  );
  const sweeper = new Periodic(
    'offline-sweep',
    clock,
    config.offlineSweepSec * 1000,
    async () => {
      if (!(await claimed('offline-sweep', config.offlineSweepSec * 1000))) return;
      const n = await store.markOffline(clock.now(), config.offlineMissedSteps);
      if (n > 0) logger.info({ hosts: n }, 'hosts went offline');
    },
    logger,
  );
  const retention = new Periodic(
    'retention',
    clock,
    3600_000,
    async () => {
      if (!(await claimed('retention', 3600_000))) return;
      const pruned = await store.pruneEvents(clock.now() - config.eventRetentionDays * 86_400_000);
      if (pruned > 0) logger.info({ events: pruned, days: config.eventRetentionDays }, 'old events deleted');
      const results = await store.pruneTaskResults(clock.now() - config.taskResultRetentionDays * 86_400_000);
      if (results > 0)
        logger.info({ taskResults: results, days: config.taskResultRetentionDays }, 'old task results deleted');
      const audit = await store.pruneAudit(clock.now() - config.auditRetentionDays * 86_400_000);
      if (audit > 0) logger.info({ auditRows: audit, days: config.auditRetentionDays }, 'old audit rows deleted');
    },
    logger,
  );
  const dashboardJob = new Periodic(
    'dashboard',
    clock,
    config.dashboardIntervalSec * 1000,
    async () => {
      latest.dashboard = await store.computeDashboard(clock.now());
    },
    logger,
  );

  return { scheduler, sweeper, retention, dashboardJob, latest };
}

async function appContext(
  deps: ServerDeps,
  store: Store,
  metrics: ServerMetrics,
  jobs: BackgroundJobs,
): Promise<AppContext> {
  const { clock, config, logger } = deps;
  return {
    store,
    clock,
    config,
    logger,
    linkKey: await store.secret('package-links'),
    signing:
      deps.signing ??
      loadServerSigning({
        dataDir: config.dataDir,
        ...(config.signingKeys ? { signingKeys: config.signingKeys } : {}),
      }),
    ...(deps.hostCa ? { hostCa: deps.hostCa } : {}),
    ...(deps.closeHostChannel ? { closeHostChannel: deps.closeHostChannel } : {}),
    dashboard: () => jobs.latest.dashboard,
    kickScheduler: () => jobs.scheduler.trigger(),
    metrics,
  };
}

async function registerOpenApi(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Aspire server',
        version: deps.version ?? VERSION,
        description:
          'Seed 000 REST API. Every answer is the envelope {status, message, cause?} plus its fields; status codes in docs/errors.md. ' +
          'Operator routes need Authorization: Bearer <token> (aspire token create).',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
  });
}

/** The BootAgent endpoints under /agent/ (credential auth, each route checks it). */
async function registerAgentRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  await app.register(async (agentScope) => {
    agentScope.addHook('onRoute', (route) => {
      if (route.method !== 'GET') route.schema = withEnvelope(route.schema);
    });
    await agentRoutes(agentScope, ctx);
    await agentPackageRoutes(agentScope, ctx);
    await agentPolicyRoutes(agentScope, ctx);
  });
}

/** Operator REST under /api/v1/server: audit, then the gate, then every route module and the plugins. */
async function registerOperatorApi(app: FastifyInstance, ctx: AppContext, deps: ServerDeps): Promise<void> {
  const { store, clock, logger, config } = ctx;
  await app.register(
    async (api) => {
      api.addHook('onRoute', (route) => {
        route.schema = { ...withEnvelope(route.schema), security: [{ bearer: [] }] };
      });
      // Audit first (its onRequest makes the record a refusal is written to), then the gate:
      // address allow lists, token, role (http/operator-auth.ts).
      installAudit(api, { store, clock, logger });
      api.addHook('onRequest', operatorAuth({ store, clock, serverCidrs: config.operatorCidrs }));
      await taskRoutes(api, ctx);
      await hostRoutes(api, ctx);
      await inventoryRoutes(api, ctx);
      await packageRoutes(api, ctx);
      await consoleApiRoutes(api, ctx);
      await auditRoutes(api, ctx);
      await tokenRoutes(api, ctx);
      await policyRoutes(api, ctx);
      for (const plugin of deps.operatorPlugins ?? []) await api.register(plugin);
    },
    { prefix: API_PREFIX },
  );
}
