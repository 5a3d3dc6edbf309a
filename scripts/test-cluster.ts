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
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '@voice/testkit';
import { runMochaChild } from './lib/mocha-child.js';
import { CLUSTER_CONTROL_ENV, startLocalRedisCluster, type LocalRedisCluster } from './lib/redis-cluster.js';

const E2E_DIR = 'test/e2e';
const FAILOVER_SPEC = `${E2E_DIR}/redis-cluster-failover.test.ts`;
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
    return await runMochaChild({
      args: process.argv.slice(2),
      defaultSpecs: e2eSpecs(),
      cwd: REPO_ROOT,
      env: { REDIS_CLUSTER_NODES: cluster.nodes, [CLUSTER_CONTROL_ENV]: JSON.stringify(cluster.control) },
      onSignal: async (signal) => {
        say(`${signal}: stopping mocha and the cluster`);
        await cluster.stop();
      },
      say,
    });
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
