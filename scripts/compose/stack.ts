/**
 * docker-compose.yml on the engine, as the smoke test drives it: one project
 * (SMOKE.project), the real compose file plus the local-images override (image
 * names only) plus this run's override (the Realtime double's certificate
 * mounted into the bridges), and the environment the compose file reads.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { REPO_ROOT } from '@voice/testkit';
import { runCommand } from './command.js';
import { SMOKE, localImage, type SmokeService } from './settings.js';

export class StackError extends Error {
  override name = 'StackError';
}

export interface StackOptions {
  host: string;
  runDir: string;
  logFile: string;
  /** What compose interpolates into docker-compose.yml (the .env of a real deployment). */
  env: Record<string, string>;
  /** A host directory with the double's certificate, mounted read-only into every bridge. */
  caDir: string;
}

/** The parts of `docker inspect` this file reads. */
interface InspectedContainer {
  Id: string;
  Config: { Labels: Record<string, string | undefined> };
  State: { Status: string; ExitCode: number; Health?: { Status: string } };
  NetworkSettings: { Networks: Record<string, { IPAddress: string }> };
}

interface ContainerState {
  id: string;
  service: string;
  status: string;
  health: string;
  exitCode: number;
  ip: string;
}

export class ComposeStack {
  private readonly files: string[];

  constructor(private readonly options: StackOptions) {
    const runOverride = join(options.runDir, 'smoke-run.yml');
    // JSON is YAML: the one thing a test run adds to the compose file is the double's certificate.
    writeFileSync(
      runOverride,
      JSON.stringify(
        { services: { 'realtime-bridge': { volumes: [`${options.caDir}:${SMOKE.caMountDir}:ro`] } } },
        null,
        2,
      ),
    );
    this.files = [join(REPO_ROOT, SMOKE.files.compose), join(REPO_ROOT, SMOKE.files.localImages), runOverride];
  }

  private compose(args: string[], timeoutMs: number, nice = false) {
    const fileArgs = this.files.flatMap((f) => ['--file', f]);
    return runCommand(
      'docker-compose',
      ['--project-name', SMOKE.project, '--project-directory', REPO_ROOT, ...fileArgs, ...args],
      {
        timeoutMs,
        nice,
        cwd: REPO_ROOT,
        logFile: this.options.logFile,
        env: {
          ...this.options.env,
          DOCKER_HOST: this.options.host,
          // docker-compose v1 builds through the engine's API (the legacy builder), not the docker CLI:
          // BuildKit would first pull its Dockerfile frontend from a registry.
          COMPOSE_DOCKER_CLI_BUILD: '0',
          DOCKER_BUILDKIT: '0',
          COMPOSE_HTTP_TIMEOUT: String(Math.round(SMOKE.timeouts.composeUpMs / 1000)),
        },
      },
    );
  }

  /** The app image (every app service and migrate share it): the Dockerfile on the local node image. */
  async build(): Promise<void> {
    await this.compose(
      ['build', '--build-arg', `NODE_IMAGE=${localImage('node')}`, SMOKE.oneShot],
      SMOKE.timeouts.appBuildMs,
      true,
    );
  }

  /** No --scale: the replicas are docker-compose.yml's deploy.replicas (docker-compose 1.27+ and v2 honour them). */
  async up(): Promise<void> {
    await this.compose(['up', '--detach', '--no-build'], SMOKE.timeouts.composeUpMs);
  }

  /** Containers, the network and the volume; the images stay (the engine's cache). */
  async down(): Promise<void> {
    await this.compose(['down', '--volumes', '--remove-orphans'], SMOKE.timeouts.composeDownMs);
  }

  async saveLogs(file: string): Promise<void> {
    const { stdout } = await this.compose(['logs', '--no-color', '--timestamps'], SMOKE.timeouts.dockerQueryMs);
    writeFileSync(file, stdout);
  }

  async containers(): Promise<ContainerState[]> {
    const { stdout: ids } = await this.compose(['ps', '--all', '--quiet'], SMOKE.timeouts.dockerQueryMs);
    const list = ids
      .split('\n')
      .map((s) => s.trim())
      .filter(Boolean);
    if (list.length === 0) return [];
    const { stdout } = await runCommand('docker', ['inspect', ...list], {
      timeoutMs: SMOKE.timeouts.dockerQueryMs,
      env: { DOCKER_HOST: this.options.host },
    });
    return (JSON.parse(stdout) as InspectedContainer[]).map((c) => ({
      id: c.Id,
      service: c.Config.Labels['com.docker.compose.service'] ?? '',
      status: c.State.Status,
      health: c.State.Health?.Status ?? 'none',
      exitCode: c.State.ExitCode,
      ip: Object.values(c.NetworkSettings.Networks)[0]?.IPAddress ?? '',
    }));
  }

  /**
   * Until every service runs its replicas and each one with a healthcheck is
   * healthy, and the one-shot migrate exited 0. Fails at once when a container
   * exits or turns unhealthy.
   */
  async waitHealthy(): Promise<ContainerState[]> {
    const deadline = Date.now() + SMOKE.timeouts.healthyMs;
    for (;;) {
      const all = await this.containers();
      const migrate = all.filter((c) => c.service === SMOKE.oneShot);
      if (migrate.some((c) => c.status === 'exited' && c.exitCode !== 0))
        throw new StackError(`${SMOKE.oneShot} exited ${migrate[0]?.exitCode}`);
      const broken = all.filter(
        (c) =>
          c.service !== SMOKE.oneShot && (c.status === 'exited' || c.status === 'dead' || c.health === 'unhealthy'),
      );
      if (broken.length)
        throw new StackError(`not running: ${broken.map((c) => `${c.service} ${c.status}/${c.health}`).join(', ')}`);
      const pending = (Object.entries(SMOKE.replicas) as Array<[SmokeService, number]>).filter(
        ([service, n]) =>
          all.filter(
            (c) => c.service === service && c.status === 'running' && (c.health === 'healthy' || c.health === 'none'),
          ).length < n,
      );
      const migrated = migrate.length === 1 && migrate[0]?.status === 'exited';
      if (pending.length === 0 && migrated) return all.filter((c) => c.service !== SMOKE.oneShot);
      if (Date.now() > deadline) {
        const waiting = [...pending.map(([s]) => s), ...(migrated ? [] : [SMOKE.oneShot])];
        throw new StackError(`not healthy after ${SMOKE.timeouts.healthyMs / 1000} s: ${waiting.join(', ')}`);
      }
      await sleep(SMOKE.timeouts.pollMs);
    }
  }
}
