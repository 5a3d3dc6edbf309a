/** Reusable field schemas for environment variables (all arrive as strings). */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
export const DEFAULT_NAMESPACE = 'voice';

const urlWithScheme = (schemes: string[], fallback?: string) => {
  const base = z.string({ message: 'is required' }).refine(
    (v) => {
      try {
        return schemes.includes(new URL(v).protocol);
      } catch {
        return false;
      }
    },
    `must be a URL starting with ${schemes.map((s) => `${s}//`).join(' or ')}`,
  );
  return fallback === undefined ? base : base.default(fallback);
};

export const field = {
  redisUrl: () => urlWithScheme(['redis:', 'rediss:'], DEFAULT_REDIS_URL),
  /** `host:port,host:port,...`: seed nodes of a Redis Cluster (optional; when set it wins over REDIS_URL). */
  redisClusterNodes: () =>
    z
      .string()
      .optional()
      .superRefine((v, ctx) => {
        // Set but naming no node (`REDIS_CLUSTER_NODES=,`) is a mistake, not a quiet fallback to REDIS_URL.
        if (v !== undefined && splitList(v).length === 0)
          ctx.addIssue({ code: 'custom', message: 'names no node (expected host:port,host:port,...)' });
        for (const entry of splitList(v)) {
          if (!parseHostPort(entry))
            ctx.addIssue({ code: 'custom', message: `"${entry}" is not host:port (comma-separated seed nodes)` });
        }
      })
      .transform((v) => (v === undefined ? undefined : splitList(v).map((entry) => parseHostPort(entry)!))),
  databaseUrl: () => urlWithScheme(['postgres:', 'postgresql:'], DEFAULT_DATABASE_URL),
  httpsUrl: () => urlWithScheme(['https:']),
  httpUrl: (fallback?: string) => urlWithScheme(['https:', 'http:'], fallback),
  wssUrl: () => urlWithScheme(['wss:']),
  port: (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback),
  /** A duration or count: a non-negative integer. */
  int: (fallback: number) => z.coerce.number().int().min(0).default(fallback),
  positiveInt: (fallback: number) => z.coerce.number().int().min(1).default(fallback),
  /** A positive integer whose default the service derives from other settings (undefined when unset). */
  optionalPositiveInt: () => z.coerce.number().int().min(1).optional(),
  number: (fallback: number) => z.coerce.number().default(fallback),
  bool: (fallback: boolean) =>
    z
      .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'must be true or false' })
      .default(fallback ? 'true' : 'false')
      .transform((v) => v === 'true' || v === '1' || v === 'yes'),
  requiredString: () => z.string({ message: 'is required' }).min(1, 'is required'),
  /** A shared secret: required, and long enough not to be guessed (e.g. `openssl rand -hex 32`). */
  secret: () =>
    z.string({ message: 'is required' }).min(16, 'must be at least 16 characters (e.g. openssl rand -hex 32)'),
  optionalString: () => z.string().optional(),
  string: (fallback: string) => z.string().default(fallback),
  logLevel: () => z.enum(['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly', 'silent']).default('info'),
  /** Redis name prefix for shared (non per-call) keys, so two deployments or test runs can share one Redis. */
  namespace: () =>
    z
      .string()
      .regex(/^[a-z0-9][a-z0-9_.-]*$/i, 'must be letters, digits, dot, dash or underscore')
      .default(DEFAULT_NAMESPACE),
  instanceId: (service: string) => z.string().default(defaultInstanceId(service)),
};

function splitList(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** `host:port` (IPv6 in brackets) or undefined when it is not one. */
export function parseHostPort(entry: string): { host: string; port: number } | undefined {
  const match = /^(\[[^\]]+\]|[^:\s]+):(\d{1,5})$/.exec(entry);
  if (!match) return undefined;
  const port = Number(match[2]);
  if (port < 1 || port > 65535) return undefined;
  return { host: match[1]!.replace(/^\[|\]$/g, ''), port };
}

/** Unique per process: host name (the pod name under Kubernetes) plus pid and a short random tag. */
export function defaultInstanceId(service: string): string {
  return `${service}-${hostname()}-${process.pid}-${randomBytes(2).toString('hex')}`;
}
