/**
 * A throwaway Redis Cluster on this machine for tests: 3 masters and 3
 * replicas, each a `redis-server` on free ports with its files in a temp dir,
 * joined with `redis-cli --cluster create`. `stop()` kills every process and
 * removes the dir; the same happens synchronously if this process exits or is
 * interrupted first, so no redis-server outlives the run.
 *
 * `control` is what another process (a test) needs to break the cluster on
 * purpose: every node's address, pid and role at creation. It travels as JSON
 * in TEST_REDIS_CLUSTER_CONTROL (see parseClusterControl).
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '@voice/testkit';
import { formatClusterNodes } from './redis-endpoint.js';
import {
  ClusterProbeError,
  addressOf,
  clusterNodes,
  servingMasters,
  waitForClusterSettled,
  withNode,
  type NodeAddress,
} from './redis-cluster-probe.js';

const execFileAsync = promisify(execFile);

export const LOCAL_CLUSTER_DEFAULTS = {
  host: '127.0.0.1',
  masters: 3,
  replicasPerMaster: 1,
  /** How long a master may be unreachable before the others fail it over (Redis's default is 15 s). */
  nodeTimeoutMs: 1000,
  /** One redis-server listening after spawn. */
  nodeStartTimeoutMs: 10_000,
  /** `redis-cli --cluster create`: slot assignment, MEET, replica attach. */
  createTimeoutMs: 60_000,
  /** A killed redis-server is reaped this fast; past it we stop waiting. */
  exitTimeoutMs: 5000,
  pollMs: 50,
  /** Lines of a node's log quoted when it fails to start. */
  logTailLines: 20,
} as const;

/** The environment variable that carries ClusterControl as JSON to the tests. */
export const CLUSTER_CONTROL_ENV = 'TEST_REDIS_CLUSTER_CONTROL';

export interface ClusterNodeControl extends NodeAddress {
  pid: number;
  /** The role at creation; a failover changes it (ask the cluster for the current one). */
  role: 'master' | 'replica';
}

export interface ClusterControl {
  nodes: ClusterNodeControl[];
}

export interface LocalRedisCluster {
  /** `host:port,…` of every node: the REDIS_CLUSTER_NODES value. */
  readonly nodes: string;
  readonly addresses: readonly NodeAddress[];
  readonly control: ClusterControl;
  /** The masters serving slots now (after a failover, the promoted replica is one). */
  masters(): Promise<NodeAddress[]>;
  /** SIGKILLs the master on `port` (a crashed machine) and waits for the process to be gone. */
  killMaster(port: number): Promise<void>;
  /** Kills every node and removes the temp dir. Safe to call twice. */
  stop(): Promise<void>;
}

export class LocalClusterError extends Error {
  override name = 'LocalClusterError';
}

interface RunningNode extends NodeAddress {
  child: ChildProcess;
  dir: string;
  exited: Promise<void>;
}

const EXIT_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
const REDIS_TOOLS = ['redis-server', 'redis-cli'] as const;

/** The tools a local cluster needs that are not on PATH (empty: it can start). */
export function missingRedisTools(): string[] {
  return REDIS_TOOLS.filter((tool) => spawnSync(tool, ['--version'], { stdio: 'ignore' }).status !== 0);
}

/** Starts the cluster and resolves once every slot is served and every replica is in sync. */
export async function startLocalRedisCluster(): Promise<LocalRedisCluster> {
  const d = LOCAL_CLUSTER_DEFAULTS;
  const missing = missingRedisTools();
  if (missing.length > 0)
    throw new LocalClusterError(
      `${missing.join(' and ')} not found on PATH: install Redis (apt-get install redis-server)`,
    );
  const root = mkdtempSync(join(tmpdir(), 'voice-redis-cluster-'));
  const running: RunningNode[] = [];
  let stopped = false;

  // Synchronous on purpose: it also runs from the 'exit' event, where nothing async happens.
  const killAllNow = () => {
    if (stopped) return;
    stopped = true;
    for (const node of running)
      if (node.child.exitCode === null && node.child.signalCode === null) node.child.kill('SIGKILL');
    rmSync(root, { recursive: true, force: true });
    process.off('exit', killAllNow);
    for (const signal of EXIT_SIGNALS) process.off(signal, onSignal);
  };
  function onSignal(signal: NodeJS.Signals) {
    killAllNow();
    // Alone, keep the signal's default (the process dies of it); otherwise the runner's handler decides.
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  }
  process.on('exit', killAllNow);
  for (const signal of EXIT_SIGNALS) process.once(signal, onSignal);

  const stop = async () => {
    const exits = running.map((n) => n.exited);
    killAllNow();
    await Promise.race([Promise.all(exits), delay(d.exitTimeoutMs)]);
  };

  try {
    const ports = await distinctFreePorts(d.masters * (1 + d.replicasPerMaster) * 2);
    for (let i = 0; i < ports.length; i += 2) running.push(spawnNode(root, d.host, ports[i]!, ports[i + 1]!));
    await Promise.all(running.map((node) => waitUntilListening(node)));
    await createCluster(running);
    await waitForClusterSettled(running);
    const control = await describeControl(running);
    return {
      nodes: formatClusterNodes(running),
      addresses: running.map(({ host, port }) => ({ host, port })),
      control,
      masters: async () => (await servingMasters(live(running))).map(({ host, port }) => ({ host, port })),
      killMaster: async (port) => {
        const node = running.find((n) => n.port === port);
        const view = await clusterNodes(live(running));
        if (!node || view.find((n) => n.port === port)?.role !== 'master')
          throw new LocalClusterError(`no master of this cluster listens on port ${port}`);
        node.child.kill('SIGKILL');
        await node.exited;
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Reads TEST_REDIS_CLUSTER_CONTROL; undefined when unset or not a cluster description. */
export function parseClusterControl(json: string | undefined): ClusterControl | undefined {
  if (!json) return undefined;
  try {
    const value = JSON.parse(json) as { nodes?: unknown };
    if (!Array.isArray(value.nodes) || value.nodes.length === 0) return undefined;
    const nodes = value.nodes.filter(isNodeControl);
    return nodes.length === value.nodes.length ? { nodes } : undefined;
  } catch {
    return undefined;
  }
}

/** From another process: SIGKILL the node on `port` by its pid and wait until it no longer answers. */
export async function killClusterNode(
  control: ClusterControl,
  port: number,
  timeoutMs: number = LOCAL_CLUSTER_DEFAULTS.exitTimeoutMs,
): Promise<void> {
  const node = control.nodes.find((n) => n.port === port);
  if (!node) throw new LocalClusterError(`no node of this cluster listens on port ${port}`);
  process.kill(node.pid, 'SIGKILL');
  const deadline = Date.now() + timeoutMs;
  while (await answers(node)) {
    if (Date.now() > deadline)
      throw new LocalClusterError(`redis-server pid ${node.pid} on port ${port} still answers after SIGKILL`);
    await delay(LOCAL_CLUSTER_DEFAULTS.pollMs);
  }
}

function isNodeControl(n: unknown): n is ClusterNodeControl {
  const o = n as Partial<ClusterNodeControl> | null;
  return (
    typeof o?.host === 'string' &&
    Number.isInteger(o.port) &&
    Number.isInteger(o.pid) &&
    (o.role === 'master' || o.role === 'replica')
  );
}

function spawnNode(root: string, host: string, port: number, busPort: number): RunningNode {
  const dir = join(root, String(port));
  mkdirSync(dir);
  const args = [
    '--port',
    String(port),
    '--bind',
    host,
    '--cluster-enabled',
    'yes',
    '--cluster-config-file',
    join(dir, 'nodes.conf'),
    '--cluster-node-timeout',
    String(LOCAL_CLUSTER_DEFAULTS.nodeTimeoutMs),
    // The bus port defaults to port + 10000, which may be taken (or past 65535): pick it too.
    '--cluster-port',
    String(busPort),
    '--save',
    '',
    '--appendonly',
    'no',
    '--dir',
    dir,
    '--logfile',
    join(dir, 'redis.log'),
  ];
  const child = spawn('redis-server', args, { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', () => resolve());
  });
  return { host, port, child, dir, exited };
}

async function waitUntilListening(node: RunningNode): Promise<void> {
  const deadline = Date.now() + LOCAL_CLUSTER_DEFAULTS.nodeStartTimeoutMs;
  while (!(await answers(node))) {
    if (node.child.exitCode !== null || node.child.signalCode !== null || Date.now() > deadline) {
      throw new LocalClusterError(`redis-server on port ${node.port} did not start:\n${logTail(node)}`);
    }
    await delay(LOCAL_CLUSTER_DEFAULTS.pollMs);
  }
}

async function createCluster(nodes: RunningNode[]): Promise<void> {
  const args = [
    '--cluster',
    'create',
    ...nodes.map(addressOf),
    '--cluster-replicas',
    String(LOCAL_CLUSTER_DEFAULTS.replicasPerMaster),
    '--cluster-yes',
  ];
  try {
    await execFileAsync('redis-cli', args, { timeout: LOCAL_CLUSTER_DEFAULTS.createTimeoutMs });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new LocalClusterError(`redis-cli ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

async function describeControl(nodes: RunningNode[]): Promise<ClusterControl> {
  const view = await clusterNodes(nodes);
  return {
    nodes: nodes.map((node) => {
      const seen = view.find((v) => v.port === node.port);
      if (!seen || node.child.pid === undefined)
        throw new ClusterProbeError(`node ${addressOf(node)} is missing from CLUSTER NODES`);
      return { host: node.host, port: node.port, pid: node.child.pid, role: seen.role };
    }),
  };
}

function live(nodes: RunningNode[]): RunningNode[] {
  return nodes.filter((n) => n.child.exitCode === null && n.child.signalCode === null);
}

async function answers(node: NodeAddress): Promise<boolean> {
  try {
    return (await withNode(node, (r) => r.ping())) === 'PONG';
  } catch {
    return false;
  }
}

async function distinctFreePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

function logTail(node: RunningNode): string {
  try {
    return readFileSync(join(node.dir, 'redis.log'), 'utf8')
      .trim()
      .split('\n')
      .slice(-LOCAL_CLUSTER_DEFAULTS.logTailLines)
      .join('\n');
  } catch {
    return '(no log written)';
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
