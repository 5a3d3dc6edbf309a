/**
 * The knex instance every service shares: pg client, a small pool, bounded
 * connect and acquire times so a dead database fails fast instead of hanging a call.
 */
import knexFactory from 'knex';
import type { Knex } from 'knex';

/** Idle pools hold no sockets: tests and quiet services release connections. */
export const DEFAULT_POOL_MIN = 0;
/** Each service does a handful of short queries per call; five is plenty. */
export const DEFAULT_POOL_MAX = 5;
/** How long a query may wait for a free pooled connection. */
export const DEFAULT_ACQUIRE_TIMEOUT_MS = 10_000;
/** How long opening one TCP + auth handshake may take (a blackholed host). */
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
/** Idle connections above `poolMin` are closed after this long. */
export const DEFAULT_IDLE_TIMEOUT_MS = 10_000;

export interface DatabaseOptions {
  poolMin?: number;
  poolMax?: number;
  acquireTimeoutMs?: number;
  connectTimeoutMs?: number;
  idleTimeoutMs?: number;
  /** Shown in `pg_stat_activity`, so on-call can tell which service holds a connection. */
  applicationName?: string;
  /** Where knex's own warnings go (defaults to knex's console logger). */
  log?: Knex.Logger;
}

export function createDatabase(url: string, opts: DatabaseOptions = {}): Knex {
  const connection: Knex.PgConnectionConfig = {
    connectionString: url,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
  };
  if (opts.applicationName !== undefined) connection.application_name = opts.applicationName;

  const config: Knex.Config = {
    client: 'pg',
    connection,
    pool: {
      min: opts.poolMin ?? DEFAULT_POOL_MIN,
      max: opts.poolMax ?? DEFAULT_POOL_MAX,
      idleTimeoutMillis: opts.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
    },
    acquireConnectionTimeout: opts.acquireTimeoutMs ?? DEFAULT_ACQUIRE_TIMEOUT_MS,
  };
  if (opts.log !== undefined) config.log = opts.log;
  return knexFactory(config);
}

/** Closes every pooled connection; safe to call twice. */
export async function closeDatabase(knex: Knex): Promise<void> {
  await knex.destroy();
}
