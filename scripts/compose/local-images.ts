/**
 * The local stand-ins for the official images (no image registry is reachable
 * here): debootstrap a minimal Debian bookworm, import it into the engine,
 * then build infra/compose/local-images/Dockerfile's targets on it. Node.js
 * and npm come from the npm registry (`npm pack`), cached under the work dir.
 * The engine's own cache makes a second run cost seconds.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { join } from 'node:path';
import { REPO_ROOT } from '@voice/testkit';
import { runCommand, succeeds } from './command.js';
import { SMOKE, localImage } from './settings.js';

export class LocalImageError extends Error {
  override name = 'LocalImageError';
}

export interface ImageContext {
  host: string;
  workDir: string;
  logFile: string;
  say: (line: string) => void;
}

function docker(ctx: ImageContext, args: string[], timeoutMs: number, nice = false) {
  // The legacy builder: BuildKit's Dockerfile frontend would be pulled from a registry.
  return runCommand('docker', args, {
    timeoutMs,
    nice,
    logFile: ctx.logFile,
    env: { DOCKER_HOST: ctx.host, DOCKER_BUILDKIT: '0' },
  });
}

export async function imageExists(ctx: Pick<ImageContext, 'host'>, image: string): Promise<boolean> {
  return succeeds('docker', ['image', 'inspect', image], {
    timeoutMs: SMOKE.timeouts.dockerQueryMs,
    env: { DOCKER_HOST: ctx.host },
  });
}

/** `voice-local/<target>:bookworm` for every target, built (or found in the engine's cache). */
export async function ensureLocalImages(ctx: ImageContext): Promise<void> {
  await ensureMinbase(ctx);
  const context = await prepareBuildContext(ctx);
  for (const target of SMOKE.images.targets) {
    ctx.say(`building ${localImage(target)}`);
    await docker(
      ctx,
      [
        'build',
        '--build-arg',
        `BASE_IMAGE=${SMOKE.images.minbase}`,
        '--target',
        target,
        '--tag',
        localImage(target),
        context,
      ],
      SMOKE.timeouts.imageBuildMs,
      true,
    );
  }
}

async function ensureMinbase(ctx: ImageContext): Promise<void> {
  if (await imageExists(ctx, SMOKE.images.minbase)) return;
  const rootfs = join(ctx.workDir, 'rootfs');
  const tarball = join(ctx.workDir, 'minbase.tar');
  rmSync(rootfs, { recursive: true, force: true });
  ctx.say(`debootstrap --variant=minbase ${SMOKE.debian.suite} (about a minute)`);
  try {
    await runCommand('debootstrap', ['--variant=minbase', SMOKE.debian.suite, rootfs, SMOKE.debian.mirror], {
      timeoutMs: SMOKE.timeouts.debootstrapMs,
      nice: true,
      logFile: ctx.logFile,
    });
    // The downloaded .deb files are not part of the system.
    rmSync(join(rootfs, 'var/cache/apt/archives'), { recursive: true, force: true });
    mkdirSync(join(rootfs, 'var/cache/apt/archives/partial'), { recursive: true });
    await runCommand('tar', ['-C', rootfs, '-cf', tarball, '.'], {
      timeoutMs: SMOKE.timeouts.importMs,
      logFile: ctx.logFile,
    });
    ctx.say(`importing it as ${SMOKE.images.minbase}`);
    await docker(ctx, ['import', tarball, SMOKE.images.minbase], SMOKE.timeouts.importMs);
  } finally {
    rmSync(rootfs, { recursive: true, force: true });
    rmSync(tarball, { force: true });
  }
}

/**
 * The certificates this host trusts (Debian's bundle, where the machine's
 * proxy CA is installed), or Node's own list when there is no bundle.
 */
function writeHostCa(file: string): void {
  const bundle = [process.env.NODE_EXTRA_CA_CERTS, SMOKE.hostCaBundle].find((f): f is string => !!f && existsSync(f));
  if (bundle) cpSync(bundle, file);
  else writeFileSync(file, `${rootCertificates.join('\n')}\n`);
}

/** infra/compose/local-images/* plus host-ca.pem, and node/ and npm/ unpacked from the npm registry's tarballs. */
async function prepareBuildContext(ctx: ImageContext): Promise<string> {
  const packs = join(ctx.workDir, 'npm-packs');
  mkdirSync(packs, { recursive: true });
  const context = join(ctx.workDir, 'local-images-context');
  rmSync(context, { recursive: true, force: true });
  cpSync(join(REPO_ROOT, SMOKE.files.localImagesDir), context, { recursive: true });
  writeHostCa(join(context, 'host-ca.pem'));
  for (const [dir, spec, only] of [
    ['node', SMOKE.node, ['package/bin/node']],
    ['npm', SMOKE.npm, []],
  ] as const) {
    const tgz = join(packs, `${spec.package}-${spec.version}.tgz`);
    if (!existsSync(tgz)) {
      ctx.say(`npm pack ${spec.package}@${spec.version}`);
      await runCommand('npm', ['pack', `${spec.package}@${spec.version}`, '--pack-destination', packs, '--silent'], {
        timeoutMs: SMOKE.timeouts.npmPackMs,
        logFile: ctx.logFile,
      });
    }
    mkdirSync(join(context, dir));
    await runCommand('tar', ['-xzf', tgz, '-C', join(context, dir), '--strip-components=1', ...only], {
      timeoutMs: SMOKE.timeouts.npmPackMs,
      logFile: ctx.logFile,
    });
  }
  if (readdirSync(join(context, 'node', 'bin')).length === 0)
    throw new LocalImageError(`${SMOKE.node.package}@${SMOKE.node.version} has no bin/node`);
  return context;
}
