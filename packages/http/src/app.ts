import { randomUUID } from 'node:crypto';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyPluginAsync, type FastifyReply, type FastifyRequest } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import {
  jsonSchemaTransform,
  jsonSchemaTransformObject,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import { z } from 'zod';
import { sql } from '@fairlabel/db';
import type { Metrics } from '@fairlabel/observability';
import type { Deps } from '@fairlabel/runtime';
import { installAuth, type RecordKeyUse } from './auth.js';
import { ApiError } from './errors.js';
import type { RouteTableEntry } from './types.js';
import { installErrorHandling } from './error-handler.js';
import { installJsonGuard } from './json-guard.js';
import { installIpLimit } from './ip-limit.js';

export type AppInstance = FastifyInstance;

export interface RoutePlugin {
  /** Mounted under /v1. */
  plugin: FastifyPluginAsync;
  name: string;
}

export interface HttpAppOptions {
  deps: Deps;
  routes: RoutePlugin[];
  metrics?: Metrics;
  /** Extra plugins mounted at the root, outside /v1 (e.g. the Bull Board UI). */
  rootPlugins?: FastifyPluginAsync[];
  title?: string;
  /**
   * Records when a key was last used (the gateway passes its API keys module's recorder). Apps built
   * without it, such as one service's route tests, do not keep `last_used_at`.
   */
  recordKeyUse?: RecordKeyUse;
}

/**
 * Fastify logs two lines per request at info, which buries everything else (a demo run printed 800 of
 * them). One compact line per request at debug (LOG_LEVEL=debug); a request that failed inside fastify
 * is still an error, and the error handler logs every 5xx it answers.
 */
class RequestLogsAtDebug extends LogController {
  override incomingRequest(): void {}
  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (error) {
      reply.log.error({ err: error, method: request.method, url: request.url, status: reply.statusCode }, 'request errored');
      return;
    }
    reply.log.debug({ method: request.method, url: request.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request completed');
  }
  override routeNotFound(request: FastifyRequest): void {
    request.log.debug({ method: request.method, url: request.url }, 'route not found');
  }
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Builds the HTTP surface: one auth layer, one error shape, one OpenAPI document, rate limits, health
 * and metrics, and each service's route plugin under /v1. The gateway process and the route tests of
 * every service build their app here, so both exercise the same stack.
 */
export async function buildHttpApp(opts: HttpAppOptions): Promise<AppInstance> {
  const { deps } = opts;
  const metrics = opts.metrics ?? deps.metrics;
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    bodyLimit: deps.config.BODY_LIMIT_BYTES,
    // Behind a proxy, request.ip (the rate limits' key for callers without a key) comes from X-Forwarded-For.
    trustProxy: deps.config.TRUST_PROXY as boolean, // or a hop count or address list (see TRUST_PROXY)
    // A caller's X-Request-Id is kept (so a request can be followed across systems); otherwise one is made.
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    connectionTimeout: 60_000,
    requestTimeout: 120_000,
    keepAliveTimeout: 72_000,
    return503OnClosing: true,
    logController: new RequestLogsAtDebug(),
    forceCloseConnections: 'idle',
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
    // A URL the router cannot decode (%FF, a lone %) or a path parameter over maxParamLength: the one
    // error shape, not fastify's own.
    frameworkErrors: (error, _request, reply) => {
      const tooLong = error.code === 'FST_ERR_MAX_PARAM_LENGTH';
      const body = { error: { code: tooLong ? 'path_parameter_too_long' : 'malformed_url', message: error.message, details: [] } };
      void (reply as FastifyReply).status(tooLong ? 414 : 400).type('application/json; charset=utf-8').send(body);
    },
  }).withTypeProvider<ZodTypeProvider>();

  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.decorate('deps', deps);
  // Once shutdown starts, responses to requests still in flight close their connection, so kept-alive
  // clients do not hold the process open until their idle timeout.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
    // How long the server held the request (W3C Server-Timing), so a client can tell its own and the
    // network's wait from ours — the claim benchmark splits its slowest cycles with it.
    reply.header('server-timing', `app;dur=${reply.elapsedTime.toFixed(1)}`);
    if (closing) reply.header('connection', 'close');
  });
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unknown';
    metrics.httpRequests.inc({ method: request.method, route, status: String(reply.statusCode) });
    metrics.httpDuration.observe({ method: request.method, route }, reply.elapsedTime / 1000);
  });

  installErrorHandling(app);
  installAuth(app, { recordKeyUse: opts.recordKeyUse });
  // After auth, so its role check (a preValidation hook too) answers first.
  installJsonGuard(app);
  // The route table, for the check that the OpenAPI document lists every route.
  const routeTable: RouteTableEntry[] = [];
  app.decorate('routeTable', routeTable);
  // The docs UI and the OpenAPI document are public, so a newcomer can read the API before holding a key.
  app.addHook('onRoute', (route) => {
    if (route.url === '/docs' || route.url.startsWith('/docs/')) {
      route.config = { ...(route.config ?? {}), auth: 'public' };
      route.schema = { ...(route.schema ?? {}), hide: true };
    }
    for (const method of [route.method].flat()) routeTable.push({ method, url: route.url, auth: route.config?.auth, roles: route.config?.roles });
  });

  // Rate-limit counters get their own connection with auto-pipelining: the counter commands of
  // concurrent requests go to Redis in one write instead of one each. (Not on the shared connection:
  // BullMQ's blocking commands must not hold up a pipeline.)
  const rateLimitRedis = deps.redis.duplicate({ enableAutoPipelining: true });
  rateLimitRedis.on('error', (err) => app.log.warn({ err }, 'rate-limit Redis connection error'));
  app.addHook('onClose', async () => {
    rateLimitRedis.disconnect();
  });
  installIpLimit(app, { redis: rateLimitRedis, prefix: deps.prefix, max: deps.config.RATE_LIMIT_IP_MAX, windowMs: deps.config.RATE_LIMIT_WINDOW_MS });
  await app.register(rateLimit, {
    global: true,
    max: deps.config.RATE_LIMIT_MAX,
    timeWindow: deps.config.RATE_LIMIT_WINDOW_MS,
    redis: rateLimitRedis,
    nameSpace: `${deps.prefix}:ratelimit:`,
    // Per API key (its public prefix) when authenticated, so one tenant cannot exhaust another's budget.
    keyGenerator: (request) => (request.auth ? `key:${request.auth.keyPrefix}` : `ip:${request.ip}`),
    allowList: (request) => request.routeOptions.config?.auth === 'public' && (request.url === '/healthz' || request.url === '/readyz'),
    skipOnError: true,
    errorResponseBuilder: (_request, context) =>
      new ApiError(429, 'rate_limited', `rate limit of ${context.max} requests per ${context.after} exceeded`, [], {
        'retry-after': String(Math.ceil(context.ttl / 1000)),
      }),
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: opts.title ?? 'fairlabel API',
        version: '1.0.0',
        description:
          'Open backend for data annotation: clients submit jobs, vendors pull tasks for their workers, QA scores the work, settlement pays every accepted annotation once. ' +
          'Errors always have the shape `{ "error": { "code", "message", "details" } }`.',
      },
      components: { securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'An API key: `Authorization: Bearer fl_...`' } } },
      security: [{ apiKey: [] }],
    },
    transform: jsonSchemaTransform,
    transformObject: jsonSchemaTransformObject,
  });
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { deepLinking: true }, staticCSP: true });

  registerOpsRoutes(app, metrics);
  for (const plugin of opts.rootPlugins ?? []) await app.register(plugin);
  for (const route of opts.routes) await app.register(route.plugin, { prefix: '/v1' });
  return app;
}

/** Health, readiness and metrics: unauthenticated, outside /v1, for load balancers and Prometheus. */
function registerOpsRoutes(app: FastifyInstance, metrics: Metrics) {
  const typed = app.withTypeProvider<ZodTypeProvider>();
  const { deps } = app;
  typed.get(
    '/healthz',
    {
      config: { auth: 'public' },
      schema: { operationId: 'healthz', tags: ['ops'], summary: 'The process is up', security: [], response: { 200: z.object({ status: z.literal('ok') }) } },
    },
    async () => ({ status: 'ok' as const }),
  );
  const readiness = z.object({ status: z.enum(['ready', 'not_ready']), postgres: z.boolean(), redis: z.boolean() });
  typed.get(
    '/readyz',
    {
      config: { auth: 'public' },
      schema: {
        operationId: 'readyz',
        tags: ['ops'],
        summary: 'Postgres and Redis are reachable',
        security: [],
        response: { 200: readiness, 503: readiness },
      },
    },
    async (_request, reply) => {
      const within = <T>(p: Promise<T>) =>
        Promise.race([p.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 2000).unref())]).catch(() => false);
      const [postgres, redis] = await Promise.all([within(sql`SELECT 1`.execute(deps.db)), within(deps.redis.ping())]);
      const ok = postgres && redis;
      return reply.status(ok ? 200 : 503).send({ status: ok ? 'ready' : 'not_ready', postgres, redis });
    },
  );
  app.get(
    '/metrics',
    { config: { auth: 'public' }, schema: { operationId: 'metrics', tags: ['ops'], summary: 'Prometheus metrics', security: [] } },
    async (_request, reply) => reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
  );
}

