/**
 * `npm run test:cluster`: the end-to-end suite on a Redis Cluster. Starts a
 * local 3-master, 3-replica cluster (scripts/lib/redis-cluster.ts), runs
 * mocha on test/e2e with REDIS_CLUSTER_NODES pointing at it (Postgres is the
 * usual DATABASE_URL), and stops the cluster whatever happens. The exit code
 * is mocha's.
 *
 * The failover test runs last: it kills a master, and the files before it
 * should not run on a cluster with a master short of a replica.
 *
 * Arguments go to mocha; with spec files among them only those run:
 *   npm run test:cluster -- test/e2e/inbound-call.test.ts
 *   npm run test:cluster -- --grep failover
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { REPO_ROOT } from '@voice/testkit';
import { CLUSTER_CONTROL_ENV, startLocalRedisCluster, type LocalRedisCluster } from './lib/redis-cluster.js';

const E2E_DIR = 'test/e2e';
const FAILOVER_SPEC = `${E2E_DIR}/redis-cluster-failover.test.ts`;
const MOCHA_BIN = createRequire(import.meta.url).resolve('mocha/bin/mocha.js');
/** Exit codes of a process ended by a signal: 128 + its number. */
const SIGNAL_EXIT: Partial<Record<NodeJS.Signals, number>> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };
/** After a signal, mocha gets this long to stop on its own before its process group is killed. */
const MOCHA_STOP_GRACE_MS = 5000;
/** The cluster could not start (no redis-server, no free ports): nothing was tested. */
const EXIT_SETUP_FAILED = 2;

function say(line: string): void {
  process.stdout.write(`[test:cluster] ${line}\n`);
}

/** Every e2e spec, sorted, the failover test last. */
function e2eSpecs(): string[] {
  const files = readdirSync(join(REPO_ROOT, E2E_DIR), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.test.ts'))
    .map((f) => `${E2E_DIR}/${f.split('\\').join('/')}`)
    .sort();
  return [...files.filter((f) => f !== FAILOVER_SPEC), ...files.filter((f) => f === FAILOVER_SPEC)];
}

/** Signals a child's whole process group (mocha re-spawns itself to apply node options). */
function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

function runMocha(args: string[], cluster: LocalRedisCluster): Promise<number> {
  const hasSpec = args.some((a) => a.endsWith('.ts') || a.includes('/'));
  // Its own process group, so a signal to this runner reaches every mocha process, and none outlives it.
  const child = spawn(process.execPath, [MOCHA_BIN, ...args, ...(hasSpec ? [] : e2eSpecs())], {
    cwd: REPO_ROOT,
    stdio: 'inherit',
    detached: true,
    env: { ...process.env, REDIS_CLUSTER_NODES: cluster.nodes, [CLUSTER_CONTROL_ENV]: JSON.stringify(cluster.control) },
  });
  const killNow = () => signalGroup(child, 'SIGKILL');
  process.on('exit', killNow);
  for (const signal of Object.keys(SIGNAL_EXIT) as NodeJS.Signals[]) {
    process.once(signal, () => {
      say(`${signal}: stopping mocha and the cluster`);
      signalGroup(child, signal);
      setTimeout(killNow, MOCHA_STOP_GRACE_MS).unref();
      void cluster.stop().finally(() => process.exit(SIGNAL_EXIT[signal]));
    });
  }
  return new Promise((resolve) => {
    child.once('error', (err) => {
      say(`could not run mocha: ${err.message}`);
      resolve(1);
    });
    child.once('exit', (code, signal) => {
      process.off('exit', killNow);
      resolve(code ?? (signal ? (SIGNAL_EXIT[signal] ?? 1) : 1));
    });
  });
}

async function main(): Promise<number> {
  say('starting a local Redis Cluster (3 masters, 3 replicas)...');
  let cluster: LocalRedisCluster;
  try {
    cluster = await startLocalRedisCluster();
  } catch (err) {
    say(`could not start the cluster: ${(err as Error).message}`);
    return EXIT_SETUP_FAILED;
  }
  say(`REDIS_CLUSTER_NODES=${cluster.nodes}`);
  try {
    return await runMocha(process.argv.slice(2), cluster);
  } finally {
    await cluster.stop();
    say('cluster stopped');
  }
}

main()
  .then((code) => process.exit(code))
  .catch((err: unknown) => {
    say(`failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
