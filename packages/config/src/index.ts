import ipaddr from 'ipaddr.js';
import { z } from 'zod';

const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/**
 * Every setting a fairlabel process reads from its environment. Defaults reach the Postgres and Redis
 * of a developer machine; there are no defaults for secrets (there are none here yet: API keys live
 * hashed in Postgres, webhook secrets are generated per endpoint).
 */
export const configSchema = z
  .object({
    DATABASE_URL: z.string().url().default('postgres://postgres@127.0.0.1:5432/fairlabel'),
    REDIS_URL: z.string().url().default('redis://127.0.0.1:6379'),
    /** Every Redis key (BullMQ queues, rate limits, pub/sub channels) starts with this, so several stacks or test files share one Redis. */
    REDIS_PREFIX: z.string().regex(/^[a-zA-Z0-9:_-]+$/).default('fairlabel'),
    HOST: z.string().default('127.0.0.1'),
    PORT: z.coerce.number().int().min(0).max(65535).default(3000),
    LOG_LEVEL: z.enum(logLevels).default('info'),
    /** `auto`: human-readable lines when stdout is a terminal, JSON otherwise; `json` or `pretty` to force one. */
    LOG_FORMAT: z.enum(['auto', 'json', 'pretty']).default('auto'),
    /** Largest JSON body outside streaming imports, in bytes. */
    BODY_LIMIT_BYTES: z.coerce.number().int().positive().default(1_048_576),
    /** Requests per key (or per IP when unauthenticated) per RATE_LIMIT_WINDOW_MS. */
    RATE_LIMIT_MAX: z.coerce.number().int().positive().default(1200),
    RATE_LIMIT_WINDOW_MS: z.coerce.number().int().positive().default(60_000),
    /** Requests without a valid API key (missing, wrong or revoked) and requests for unknown routes, per client IP per RATE_LIMIT_WINDOW_MS. */
    RATE_LIMIT_IP_MAX: z.coerce.number().int().positive().default(300),
    /**
     * Whether the client IP (the key of the IP rate limit) is taken from X-Forwarded-For: `false`
     * (default: the socket's address), `true` (trust every proxy), a number of proxy hops, or
     * comma-separated proxy addresses/CIDRs. Set it only behind a proxy that overwrites the header.
     */
    TRUST_PROXY: z
      .string()
      .default('false')
      .transform((v): boolean | number | string => (v === 'true' ? true : v === 'false' ? false : /^\d+$/.test(v) ? Number(v) : v)),
    PG_POOL_MAX: z.coerce.number().int().positive().default(20),
    /** Outbox relay polls this often even without a NOTIFY, so a missed notification delays, never loses, an event. */
    OUTBOX_POLL_MS: z.coerce.number().int().positive().default(1000),
    /** How long in-flight requests and jobs get to finish on SIGTERM before the process exits anyway. */
    SHUTDOWN_GRACE_MS: z.coerce.number().int().positive().default(10_000),
    /**
     * Port of `GET /metrics` for the processes without an HTTP API (relay, service consumers); 0: not
     * served. Under `pnpm start` the n-th such process gets METRICS_PORT + n.
     */
    METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(0),
    /** How often the reconciler compares what Postgres says must be queued with what Redis holds. */
    RECONCILE_INTERVAL_MS: z.coerce.number().int().min(1000).default(60_000),
    /**
     * A queue job whose process died is retried after at most about twice this long: it is the lock a
     * consumer holds on a job (renewed at half of it while the job runs) and the stalled-job check interval.
     */
    QUEUE_STALLED_MS: z.coerce.number().int().min(1000).default(30_000),
    /** `pnpm start` gives up (stops everything, exits 1) when one process crashed this often within RESTART_WINDOW_MS. */
    RESTART_MAX_CRASHES: z.coerce.number().int().positive().default(5),
    RESTART_WINDOW_MS: z.coerce.number().int().positive().default(60_000),
    /** First restart delay after a crash; it doubles with each further crash in the window (at most 30 s). */
    RESTART_BACKOFF_MS: z.coerce.number().int().min(0).default(500),
    /** How long an ops console sign-in lasts (a session in Redis; the browser holds only its random id). */
    /**
     * Ranges outbound webhooks may reach although they are not public (comma-separated CIDRs, e.g.
     * `10.20.0.0/16,fd00::/8`): for self-hosted receivers on a private network. Empty: public addresses only.
     */
    WEBHOOK_ALLOW_PRIVATE_CIDRS: z
      .string()
      .default('')
      .refine((v) => v.split(',').map((s) => s.trim()).filter(Boolean).every((c) => ipaddr.isValidCIDR(c)), 'must be comma-separated CIDR ranges, e.g. 10.0.0.0/8,fd00::/8'),
    /**
     * The key webhook signing secrets are sealed with (AES-256-GCM): 32 bytes, base64
     * (`openssl rand -base64 32`). Required by the gateway and task-dispatch; `pnpm start` generates one
     * into .fairlabel/secrets-encryption-key when unset. No default: a default key is no key.
     */
    SECRETS_ENCRYPTION_KEY: z
      .string()
      .refine((v) => Buffer.from(v.trim(), 'base64').length === 32, 'must be 32 bytes, base64-encoded (openssl rand -base64 32)')
      .optional(),
    /** Earlier keys, comma-separated, still used to open secrets sealed before a rotation (see README "Security"). */
    SECRETS_ENCRYPTION_OLD_KEYS: z
      .string()
      .default('')
      .refine((v) => v.split(',').map((s) => s.trim()).filter(Boolean).every((k) => Buffer.from(k, 'base64').length === 32), 'must be comma-separated 32-byte base64 keys'),
    OPS_SESSION_TTL_SECONDS: z.coerce.number().int().min(60).max(7 * 24 * 3600).default(8 * 3600),
  })
  .refine((c) => !c.DATABASE_URL.startsWith('postgres') || /^postgres(ql)?:\/\//.test(c.DATABASE_URL), {
    path: ['DATABASE_URL'],
    message: 'must be a postgres:// URL',
  })
  .refine((c) => /^rediss?:\/\//.test(c.REDIS_URL), { path: ['REDIS_URL'], message: 'must be a redis:// or rediss:// URL' });

export type Config = z.infer<typeof configSchema>;

export class ConfigError extends Error {
  constructor(readonly issues: { variable: string; message: string }[]) {
    super(`invalid configuration: ${issues.map((i) => `${i.variable}: ${i.message}`).join('; ')}`);
    this.name = 'ConfigError';
  }
}

/** Parses the environment once; a bad value throws a ConfigError naming the variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  // Empty strings mean "unset" so `PORT= pnpm start` falls back to the default instead of failing on "".
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = configSchema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => ({ variable: String(i.path[0] ?? '?'), message: i.message })));
  }
  return parsed.data;
}

/** For process entry points: load the config or print what is wrong and exit non-zero. */
export function loadConfigOrExit(env: Record<string, string | undefined> = process.env): Config {
  try {
    return loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const issue of err.issues) console.error(`fairlabel: environment variable ${issue.variable} is invalid: ${issue.message}`);
      process.exit(78); // EX_CONFIG
    }
    throw err;
  }
}
