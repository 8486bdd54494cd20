import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { ErrorBody } from '@fairlabel/contracts';
import { ApiError, verifyApiKey, writeAudit, type AuthContext } from '@fairlabel/http';
import { discardJob, openOpsDeps, retryJob } from './ops.service.js';
import { cookieValue, createOpsSession, endOpsSession, findOpsSession, OPS_SESSION_COOKIE, sessionCookie } from './ops-sessions.service.js';

// The ops console: Bull Board at /ops/queues behind a browser sign-in with an ops or admin API key.
//
// - Sign-in takes the key once (POST /ops/login) and answers with a session cookie: HttpOnly,
//   SameSite=Strict, Secure over https, holding a random id of a session kept in Redis with a TTL
//   (OPS_SESSION_TTL_SECONDS). The key itself is never stored or sent back.
// - Without a session, a page redirects to the sign-in and the board's API answers 401.
// - Cross-site requests cannot act: the cookie is SameSite=Strict, and every state-changing request
//   must come from this origin (Sec-Fetch-Site, or Origin when a browser sends no Sec-Fetch-*).
// - The board may do only what is safe on a stack whose truth is Postgres: retry failed jobs, pause
//   and resume, promote delayed jobs, discard a failed job (through the ops API's discard, which stops
//   the reconciler from re-publishing it). Adding, editing, emptying, cleaning or obliterating is
//   refused: those would lose or duplicate events the outbox and the reconciler account for.

const BOARD = '/ops/queues';
const LOGIN = '/ops/login';

const QUEUE_DESCRIPTIONS: Record<string, string> = {
  'task-dispatch': 'task-dispatch consumes: task decisions, job completion, purges',
  'worker-assignment': 'worker-assignment consumes: slots opening, QA decisions, skill changes',
  'qa-sampling': 'qa-sampling consumes: submitted assignments',
  settlement: 'settlement consumes: decisions to pay and charge',
  webhooks: 'events that become client webhook deliveries',
  'webhook-deliveries': 'outbound webhook HTTP attempts (retried over about a day)',
  'lease-expiry': 'the lease-expiry tick of worker-assignment',
};

interface ConsoleAction {
  action: string;
  resourceType: 'queue' | 'queue_job';
  resourceId: string;
}

/** What a state-changing call of the board may do, by its route; null: refused. */
function boardAction(method: string, route: string, params: Record<string, string>): ConsoleAction | 'retry' | 'discard' | null {
  if (method !== 'PUT') return null;
  const q = params.queueName ?? '';
  const path = route.slice(BOARD.length);
  switch (path) {
    case '/api/queues/:queueName/:jobId/retry':
      return 'retry';
    case '/api/queues/:queueName/:jobId/clean':
      return 'discard';
    case '/api/queues/:queueName/retry/:queueStatus':
      return params.queueStatus === 'failed' ? { action: 'ops.queue.retry_failed', resourceType: 'queue', resourceId: q } : null;
    case '/api/queues/:queueName/pause':
      return { action: 'ops.queue.pause', resourceType: 'queue', resourceId: q };
    case '/api/queues/:queueName/resume':
      return { action: 'ops.queue.resume', resourceType: 'queue', resourceId: q };
    case '/api/queues/pause':
      return { action: 'ops.queue.pause', resourceType: 'queue', resourceId: '*' };
    case '/api/queues/resume':
      return { action: 'ops.queue.resume', resourceType: 'queue', resourceId: '*' };
    case '/api/queues/:queueName/promote':
      return { action: 'ops.queue.promote_delayed', resourceType: 'queue', resourceId: q };
    case '/api/queues/:queueName/:jobId/promote':
      return { action: 'ops.job.promote', resourceType: 'queue_job', resourceId: `${q}/${params.jobId ?? ''}` };
    default:
      return null;
  }
}

function sendError(reply: FastifyReply, status: number, code: string, message: string) {
  const body: ErrorBody = { error: { code, message, details: [] } };
  return reply.status(status).type('application/json; charset=utf-8').send(body);
}

/** The request comes from a page of this origin (never from another site's page or form). */
function fromThisOrigin(request: FastifyRequest): boolean {
  const site = request.headers['sec-fetch-site'];
  if (typeof site === 'string') return site === 'same-origin';
  const origin = request.headers.origin;
  if (typeof origin !== 'string') return false;
  try {
    // Compared as URLs of the origin's scheme, so a default port written or not is the same host.
    const from = new URL(origin);
    return from.host === new URL(`${from.protocol}//${request.headers.host ?? ''}`).host;
  } catch {
    return false;
  }
}

function isHttps(request: FastifyRequest): boolean {
  const forwarded = request.headers['x-forwarded-proto'];
  // Believing a forged header only makes the cookie stricter (Secure), so it is safe to honour.
  return request.protocol === 'https' || (typeof forwarded === 'string' && forwarded.split(',')[0]!.trim() === 'https');
}

/** Where to go after signing in: a console page, never another site. */
function safeNext(next: unknown): string {
  return typeof next === 'string' && /^\/ops\/[A-Za-z0-9/_:.%?=&+-]*$/.test(next) && !next.includes('//') ? next : BOARD;
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · fairlabel ops</title>
<style>
body{font-family:system-ui,sans-serif;background:#f4f5f7;color:#1d2330;display:flex;min-height:100vh;align-items:center;justify-content:center;margin:0}
main{background:#fff;padding:2rem 2.25rem;border-radius:10px;box-shadow:0 2px 12px rgba(0,0,0,.08);width:min(26rem,90vw)}
h1{font-size:1.25rem;margin:0 0 .25rem}p{color:#4a5263;font-size:.92rem;line-height:1.4}
label{display:block;font-weight:600;margin:1rem 0 .35rem}input{width:100%;box-sizing:border-box;padding:.55rem .6rem;font:inherit;border:1px solid #c6cbd6;border-radius:6px}
button{margin-top:1rem;padding:.55rem 1rem;font:inherit;font-weight:600;background:#2f5bd3;color:#fff;border:0;border-radius:6px;cursor:pointer}
.error{color:#a3211a;background:#fdecea;padding:.5rem .7rem;border-radius:6px}code{font-size:.85rem}
</style></head><body><main>${body}</main></body></html>`;
}

function loginPage(next: string, error?: string): string {
  return page(
    'Sign in',
    `<h1>fairlabel ops console</h1>
<p>Sign in with an <b>ops</b> or <b>admin</b> API key. The key is checked once; the browser keeps only a session, for a few hours.</p>
${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ''}
<form method="post" action="${LOGIN}">
<input type="hidden" name="next" value="${escapeHtml(next)}">
<label for="key">API key</label>
<input id="key" name="key" type="password" autocomplete="off" placeholder="fl_..." required autofocus>
<button type="submit">Sign in</button>
</form>
<p>No key yet? <code>pnpm fairlabel bootstrap</code> prints the first admin key; an admin can issue ops keys.</p>`,
  );
}

function logoutPage(): string {
  return page(
    'Sign out',
    `<h1>Sign out of the ops console?</h1>
<form method="post" action="/ops/logout"><button type="submit">Sign out</button></form>
<p><a href="${BOARD}">Back to the queues</a></p>`,
  );
}

const SECURITY_HEADERS = {
  // The console is never framed (clickjacking of its buttons) and its own pages load nothing foreign.
  'x-frame-options': 'DENY',
  // Only this origin's scripts, styles, images and calls: Bull Board's page would otherwise fetch a
  // stylesheet from a font CDN, telling a third party who opens the console and when.
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; base-uri 'self'; frame-ancestors 'none'; form-action 'self'",
  'referrer-policy': 'same-origin',
  'cache-control': 'no-store',
};

export const opsConsole: FastifyPluginAsync = async (app: FastifyInstance) => {
  const { deps } = app;
  const ttl = deps.config.OPS_SESSION_TTL_SECONDS;
  const ops = openOpsDeps(deps);
  app.addHook('onClose', async () => ops.close());
  const sessionOf = async (request: FastifyRequest) =>
    findOpsSession({ redis: deps.redis, db: deps.db, prefix: deps.prefix }, cookieValue(request.headers.cookie, OPS_SESSION_COOKIE));

  // The sign-in form posts urlencoded; only this plugin's routes parse that.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 4096 }, (_request, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });
  app.addHook('onSend', async (_request, reply) => {
    reply.headers(SECURITY_HEADERS);
  });

  const hidden = { hide: true } as const;
  app.get('/ops', { config: { auth: 'public' }, schema: hidden }, async (_request, reply) => reply.redirect(BOARD, 302));

  app.get('/ops/login', { config: { auth: 'public' }, schema: hidden }, async (request, reply) => {
    const next = safeNext((request.query as Record<string, unknown>).next);
    if (await sessionOf(request)) return reply.redirect(next, 302);
    return reply.type('text/html; charset=utf-8').send(loginPage(next));
  });

  app.post('/ops/login', { config: { auth: 'public' }, schema: hidden }, async (request, reply) => {
    const body = (request.body ?? {}) as Record<string, unknown>;
    const next = safeNext(body.next);
    // Login CSRF: another site must not sign a browser in (with the attacker's key).
    if (!fromThisOrigin(request)) return sendError(reply, 403, 'cross_site_request', 'sign in from the console’s own page');
    const html = (status: number, message: string) => reply.status(status).type('text/html; charset=utf-8').send(loginPage(next, message));
    const key = typeof body.key === 'string' ? body.key : '';
    const caller = key ? await verifyApiKey(app, key) : null;
    if (!caller) {
      // A failed sign-in is a failed authentication like a bad Bearer key: it spends the address's budget
      // (429 past it), so the form cannot be used to guess keys faster than the API can.
      if (app.hasDecorator('spendIpBudget')) await app.spendIpBudget(request, 'failed ops console sign-ins');
      return html(401, 'That API key is not valid (unknown, mistyped or revoked).');
    }
    if (caller.role !== 'ops' && caller.role !== 'admin') return html(403, `That is a ${caller.role} key; the console is for ops and admin keys.`);
    const id = await createOpsSession(deps.redis, deps.prefix, caller, ttl);
    request.log.info({ keyPrefix: caller.keyPrefix, role: caller.role }, 'ops console sign-in');
    return reply.header('set-cookie', sessionCookie(id, ttl, isHttps(request))).redirect(next, 303);
  });

  app.get('/ops/logout', { config: { auth: 'public' }, schema: hidden }, async (_request, reply) => reply.type('text/html; charset=utf-8').send(logoutPage()));

  app.post('/ops/logout', { config: { auth: 'public' }, schema: hidden }, async (request, reply) => {
    if (!fromThisOrigin(request)) return sendError(reply, 403, 'cross_site_request', 'sign out from the console’s own page');
    await endOpsSession(deps.redis, deps.prefix, cookieValue(request.headers.cookie, OPS_SESSION_COOKIE));
    return reply.header('set-cookie', sessionCookie('', 0, isHttps(request))).redirect(LOGIN, 303);
  });

  await app.register(async (board) => {
    const actions = new WeakMap<FastifyRequest, ConsoleAction>();
    board.addHook('onRoute', (route) => {
      route.config = { ...(route.config ?? {}), auth: 'ops-session' };
      route.schema = { ...(route.schema ?? {}), hide: true };
    });

    // Every board request needs a session: pages redirect to the sign-in, the board's API answers 401.
    board.addHook('onRequest', async (request, reply) => {
      const session = await sessionOf(request);
      if (!session) {
        const isPage = request.method === 'GET' && !request.url.startsWith(`${BOARD}/api/`) && !request.url.startsWith(`${BOARD}/static/`);
        if (isPage) return reply.redirect(`${LOGIN}?next=${encodeURIComponent(request.url)}`, 302);
        return sendError(reply, 401, 'unauthorized', `sign in to the ops console at ${LOGIN}`);
      }
      request.auth = session.caller;
    });

    // State-changing calls: from this origin only, and only the ones that are safe here.
    board.addHook('preHandler', async (request, reply) => {
      if (request.method === 'GET' || request.method === 'HEAD') return;
      if (!fromThisOrigin(request)) return sendError(reply, 403, 'cross_site_request', 'the console acts only on requests from its own pages');
      const params = request.params as Record<string, string>;
      const action = boardAction(request.method, request.routeOptions.url ?? '', params);
      if (action === null) {
        return sendError(reply, 403, 'not_allowed_in_console', 'the ops console retries, discards and promotes jobs and pauses queues; other changes would lose or duplicate events (use the API or Redis tools knowingly)');
      }
      const caller = request.auth as AuthContext;
      // Retry and discard of one job go through the ops API's service: a failed job only (409 otherwise),
      // and a discarded outbox event is marked so the reconciler does not bring it back.
      if (action === 'retry' || action === 'discard') {
        try {
          if (action === 'retry') await retryJob(ops, caller, params.queueName ?? '', params.jobId ?? '', false);
          else await discardJob(ops, caller, params.queueName ?? '', params.jobId ?? '');
        } catch (err) {
          if (err instanceof ApiError) return sendError(reply, err.statusCode, err.code, err.message);
          throw err;
        }
        return reply.status(204).send();
      }
      actions.set(request, action);
    });

    board.addHook('onResponse', async (request, reply) => {
      const action = actions.get(request);
      if (!action || reply.statusCode >= 400 || !request.auth) return;
      await writeAudit(deps.db, request.auth, { ...action, details: { via: 'ops console' } }).catch((err: unknown) => request.log.error({ err }, 'could not write the audit row of a console action'));
    });

    const serverAdapter = new FastifyAdapter();
    serverAdapter.setBasePath(BOARD);
    createBullBoard({
      queues: [...ops.queues.values()].map((q) => new BullMQAdapter(q, { allowRetries: true, description: QUEUE_DESCRIPTIONS[q.name] ?? '' })),
      serverAdapter,
      options: {
        uiConfig: {
          boardTitle: 'fairlabel ops',
          hideDocsLink: true,
          miscLinks: [
            { text: 'API docs', url: '/docs' },
            { text: 'Sign out', url: '/ops/logout' },
          ],
        },
      },
    });
    await board.register(serverAdapter.registerPlugin(), { prefix: BOARD });
  });
};
