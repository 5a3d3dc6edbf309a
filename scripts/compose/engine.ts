/**
 * The Docker engine the smoke test runs on: one that already answers
 * (DOCKER_HOST, this script's own socket, the system socket), or else a
 * dockerd started here, isolated from any system engine: its own data root
 * (kept between runs: the image cache), exec root, pid file and socket, all
 * under SMOKE.workDir. An engine started here is stopped by `stop()`, which
 * also undoes what it changed on the host's network (host-network.ts).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, openSync, closeSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { runCommand } from './command.js';
import { snapshotHostNetwork } from './host-network.js';
import { SMOKE, type StorageDriver } from './settings.js';

export class EngineError extends Error {
  override name = 'EngineError';
}

export interface Engine {
  /** DOCKER_HOST for every docker and docker-compose command. */
  host: string;
  startedHere: boolean;
  storageDriver: string;
  stop(): Promise<void>;
  /** Leaves an engine started here running after this process exits. */
  keep(): void;
}

const DEFAULT_BRIDGE = 'docker0';

export function enginePaths(workDir: string) {
  const dir = join(workDir, 'engine');
  return {
    dir,
    dataRoot: join(dir, 'data'),
    // Short: containerd's sockets live under it, and a unix socket path is limited to 107 bytes.
    execRoot: join(dir, 'exec'),
    pidFile: join(dir, 'dockerd.pid'),
    socket: join(dir, 'docker.sock'),
    log: join(dir, 'dockerd.log'),
  };
}

/** The engine's version when one answers at `host`. */
export async function answers(host: string): Promise<string | undefined> {
  try {
    const { stdout } = await runCommand('docker', ['version', '--format', '{{.Server.Version}} {{.Server.Os}}'], {
      timeoutMs: SMOKE.timeouts.dockerQueryMs,
      env: { DOCKER_HOST: host },
    });
    return stdout.trim();
  } catch {
    return undefined;
  }
}

async function storageDriverOf(host: string): Promise<string> {
  const { stdout } = await runCommand('docker', ['info', '--format', '{{.Driver}}'], {
    timeoutMs: SMOKE.timeouts.dockerQueryMs,
    env: { DOCKER_HOST: host },
  });
  return stdout.trim();
}

/** An engine that answers already, or one started here with the first storage driver that works. */
export async function acquireEngine(
  workDir: string,
  drivers: readonly StorageDriver[],
  say: (line: string) => void,
): Promise<Engine> {
  const paths = enginePaths(workDir);
  const candidates = [process.env.DOCKER_HOST, `unix://${paths.socket}`, `unix://${SMOKE.systemSocket}`].filter(
    (h): h is string => !!h,
  );
  for (const host of candidates) {
    const version = await answers(host);
    if (version) {
      const storageDriver = await storageDriverOf(host);
      say(`using the running engine at ${host} (${version}, ${storageDriver}); it stays running`);
      return { host, startedHere: false, storageDriver, stop: async () => undefined, keep: () => undefined };
    }
  }
  const failures: string[] = [];
  for (const driver of drivers) {
    try {
      return await startEngine(paths, driver, say);
    } catch (err) {
      failures.push(`${driver}: ${(err as Error).message}`);
      say(`dockerd with ${driver} did not start (${(err as Error).message.split('\n')[0]})`);
    }
  }
  throw new EngineError(`no engine could be started:\n  ${failures.join('\n  ')}\n  (log: ${paths.log})`);
}

async function startEngine(
  paths: ReturnType<typeof enginePaths>,
  driver: StorageDriver,
  say: (line: string) => void,
): Promise<Engine> {
  mkdirSync(paths.dir, { recursive: true });
  const host = `unix://${paths.socket}`;
  const hostNetwork = await snapshotHostNetwork();
  const log = openSync(paths.log, 'a');
  const args = [
    '-n',
    String(SMOKE.niceness),
    'dockerd',
    `--storage-driver=${driver}`,
    `--data-root=${paths.dataRoot}`,
    `--exec-root=${paths.execRoot}`,
    `--pidfile=${paths.pidFile}`,
    `--host=${host}`,
  ];
  say(`starting dockerd (${driver}, data root ${paths.dataRoot}, socket ${paths.socket})`);
  // Its own process group: a Ctrl-C in the terminal reaches this script, which tears down in order (stack,
  // then engine), not dockerd directly. The containers inherit the engine's niceness.
  const child = spawn('nice', args, { stdio: ['ignore', log, log], detached: true });
  closeSync(log);
  let exited: string | undefined;
  child.once('exit', (code, signal) => (exited = `exited (${code ?? signal})`));
  child.once('error', (err) => (exited = err.message));
  const signal = (sig: NodeJS.Signals) => {
    try {
      if (child.pid) process.kill(child.pid, sig);
    } catch {
      // Gone already.
    }
  };
  // If this script ends without stop() (a crash), the engine still shuts down (dockerd stops its containers).
  const killOnExit = () => signal('SIGTERM');
  process.on('exit', killOnExit);

  const deadline = Date.now() + SMOKE.timeouts.engineStartMs;
  while (!(await answers(host))) {
    if (exited) {
      process.off('exit', killOnExit);
      await hostNetwork.restore();
      throw new EngineError(`dockerd ${exited}: ${lastLines(paths.log)}`);
    }
    if (Date.now() > deadline) {
      signal('SIGKILL');
      process.off('exit', killOnExit);
      await hostNetwork.restore();
      throw new EngineError(
        `dockerd did not answer within ${SMOKE.timeouts.engineStartMs / 1000} s: ${lastLines(paths.log)}`,
      );
    }
    await sleep(SMOKE.timeouts.pollMs);
  }
  const storageDriver = await storageDriverOf(host);
  const stop = async () => {
    process.off('exit', killOnExit);
    if (exited === undefined) {
      signal('SIGTERM');
      const stopBy = Date.now() + SMOKE.timeouts.engineStopMs;
      while (exited === undefined && Date.now() < stopBy) await sleep(SMOKE.timeouts.pollMs / 4);
      if (exited === undefined) signal('SIGKILL');
    }
    await hostNetwork.restore();
  };
  return { host, startedHere: true, storageDriver, stop, keep: () => process.off('exit', killOnExit) };
}

function lastLines(file: string): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-3).join(' | ');
  } catch {
    return '(no log)';
  }
}

/**
 * The host's address on the engine's default bridge: the containers reach the
 * host there (the Realtime double listens on it). It is this engine's own
 * network on this machine.
 */
export async function hostAddressOnBridge(host: string): Promise<string> {
  const { stdout } = await runCommand(
    'docker',
    [
      'network',
      'inspect',
      'bridge',
      '--format',
      '{{index .Options "com.docker.network.bridge.name"}} {{range .IPAM.Config}}{{.Gateway}}{{end}}',
    ],
    { timeoutMs: SMOKE.timeouts.dockerQueryMs, env: { DOCKER_HOST: host } },
  );
  const [name, gateway] = stdout.trim().split(/\s+/);
  if (gateway) return gateway;
  // Not os.networkInterfaces(): it leaves out a bridge with no container attached (no carrier).
  const { stdout: ipJson } = await runCommand('ip', ['-json', '-4', 'addr', 'show', 'dev', name || DEFAULT_BRIDGE], {
    timeoutMs: SMOKE.timeouts.dockerQueryMs,
  });
  const parsed = JSON.parse(ipJson) as Array<{ addr_info?: Array<{ local?: string }> }>;
  const address = parsed[0]?.addr_info?.[0]?.local;
  if (!address)
    throw new EngineError(`the engine's default bridge (${name || DEFAULT_BRIDGE}) has no IPv4 address on this host`);
  return address;
}
