/**
 * `npm run compose:smoke`: docker-compose.yml and the Dockerfile in a real
 * Docker engine. Installs what is missing (Debian's docker.io, docker-compose,
 * debootstrap), starts an engine if none answers, builds the local stand-ins
 * for the official images and the app image, `up`s the whole stack (redis,
 * postgres, migrate, webhook, 2 gateways, 2 bridges, nginx), places one call
 * from this host through nginx with the test kit's Twilio caller and the
 * Realtime double on this host, checks the greeting and the timeline, and
 * tears everything down (the engine too if it started it). The engine's data
 * root (the image cache) stays under SMOKE.workDir for the next run.
 *
 *   npm run compose:smoke [-- --cold] [-- --storage-driver vfs] [-- --keep-up]
 *     --cold             empty the engine's data root first (a run from nothing)
 *     --storage-driver   the driver for an engine started here (default: overlay2, else vfs)
 *     --keep-up          leave the stack and the engine running (to look around)
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort } from '@voice/testkit';
import { formatTimeline } from '@voice/redis';
import { acquireEngine, answers, enginePaths, hostAddressOnBridge, type Engine } from './compose/engine.js';
import { ensureLocalImages } from './compose/local-images.js';
import { ensureTools } from './compose/prerequisites.js';
import { SMOKE, type StorageDriver } from './compose/settings.js';
import {
  SMOKE_CALL,
  checkCall,
  modelSideOf,
  placeSmokeCall,
  startDouble,
  type StartedDouble,
} from './compose/smoke-call.js';
import { ComposeStack, StackError } from './compose/stack.js';

const startedAt = Date.now();

class UsageError extends Error {
  override name = 'UsageError';
}

function say(line: string): void {
  const s = ((Date.now() - startedAt) / 1000).toFixed(0).padStart(4);
  process.stdout.write(`[compose:smoke ${s}s] ${line}\n`);
}

function parseCli() {
  const { values } = parseArgs({
    options: { cold: { type: 'boolean' }, 'storage-driver': { type: 'string' }, 'keep-up': { type: 'boolean' } },
    strict: true,
  });
  const driver = values['storage-driver'];
  if (driver !== undefined && !(SMOKE.storageDrivers as readonly string[]).includes(driver)) {
    throw new UsageError(`--storage-driver must be one of ${SMOKE.storageDrivers.join(', ')}`);
  }
  return {
    cold: values.cold ?? false,
    drivers: driver ? [driver as StorageDriver] : SMOKE.storageDrivers,
    keepUp: values['keep-up'] ?? false,
  };
}

async function main(): Promise<number> {
  const cli = parseCli();
  const runDir = join(SMOKE.workDir, 'runs', new Date().toISOString().replace(/[:.]/g, '-'));
  mkdirSync(runDir, { recursive: true });
  const logFile = join(runDir, 'commands.log');
  say(`work dir ${SMOKE.workDir}; this run's commands and output: ${logFile}`);

  const installed = await ensureTools(logFile);
  if (installed.length) say(`installed Debian packages: ${installed.join(' ')}`);
  if (cli.cold) {
    const paths = enginePaths(SMOKE.workDir);
    if (await answers(`unix://${paths.socket}`))
      throw new UsageError(`--cold: an engine still runs on ${paths.socket}; stop it first`);
    say('--cold: emptying the engine data root');
    rmSync(enginePaths(SMOKE.workDir).dataRoot, { recursive: true, force: true });
  }

  let engine: Engine | undefined;
  let stack: ComposeStack | undefined;
  let double: StartedDouble | undefined;
  let failed = true;
  const onSignal = (signal: NodeJS.Signals) => {
    say(`${signal}: tearing down`);
    void teardown().finally(() => process.exit(1));
  };
  const teardown = async () => {
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
    if (failed && stack)
      await stack.saveLogs(join(runDir, 'compose.log')).then(
        () => say(`service logs: ${join(runDir, 'compose.log')}`),
        () => undefined,
      );
    if (cli.keepUp) {
      engine?.keep();
      return say(
        `--keep-up: the stack runs (docker-compose --project-name ${SMOKE.project}); DOCKER_HOST=${engine?.host}`,
      );
    }
    if (stack) {
      say('docker-compose down --volumes');
      await stack.down().catch((err: unknown) => say(`down failed: ${(err as Error).message}`));
    }
    await double?.double.stop().catch(() => undefined);
    if (engine?.startedHere) {
      say('stopping the engine this run started');
      await engine.stop();
    }
  };
  process.once('SIGINT', onSignal).once('SIGTERM', onSignal);

  try {
    engine = await acquireEngine(SMOKE.workDir, cli.drivers, say);
    const host = engine.host;
    await ensureLocalImages({ host, workDir: SMOKE.workDir, logFile, say });

    const hostAddress = await hostAddressOnBridge(host);
    double = await startDouble(hostAddress, runDir);
    say(`Realtime double at ${double.baseURL} (the host's address on Docker's bridge)`);

    const lbPort = await freePort();
    const authToken = randomBytes(16).toString('hex');
    stack = new ComposeStack({
      host,
      runDir,
      logFile,
      caDir: double.caDir,
      env: {
        LB_PORT: String(lbPort),
        MEDIA_LINK_SECRET: randomBytes(32).toString('hex'),
        PUBLIC_BASE_URL: SMOKE_CALL.publicBaseUrl,
        PUBLIC_STREAM_URL: SMOKE_CALL.publicStreamUrl,
        TWILIO_AUTH_TOKEN: authToken,
        OPENAI_API_KEY: SMOKE_CALL.apiKey,
        OPENAI_BASE_URL: double.baseURL,
        OPENAI_CA_CERT_FILE: `${SMOKE.caMountDir}/${double.caFileName}`,
      },
    });
    say(`building ${SMOKE.images.app} (the Dockerfile, NODE_IMAGE=voice-local/node)`);
    await stack.build();
    // What an interrupted earlier run may have left in this engine.
    await stack.down();
    say(`docker-compose up (nginx on 127.0.0.1:${lbPort})`);
    await stack.up();
    const containers = await stack.waitHealthy();
    say(
      `stack healthy: ${containers.length} containers (${Object.entries(SMOKE.replicas)
        .map(([s, n]) => `${s} x${n}`)
        .join(', ')}), migrate exited 0`,
    );
    await waitForLinks(containers.filter((c) => c.service === 'media-gateway').map((c) => c.ip));

    const redisAddress = containers.find((c) => c.service === 'redis')?.ip;
    if (!redisAddress) throw new StackError('the redis container has no address');
    say(`placing a call from ${SMOKE_CALL.from} to the demo business through nginx`);
    const result = await placeSmokeCall({ lbPort, authToken, redisAddress });
    process.stdout.write(`\nTimeline of ${result.summary.callSid}:\n${formatTimeline(result.timeline)}\n\n`);
    const problems = checkCall(result, modelSideOf(double.double));
    say(
      `the caller heard ${Math.round(result.summary.heardAudibleMs)} ms of speech, first audio ${result.summary.firstAudioAtMs?.toFixed(0) ?? '-'} ms after START`,
    );
    for (const p of problems) say(`FAIL: ${p}`);
    failed = problems.length > 0;
  } catch (err) {
    say(`failed: ${(err as Error).message}`);
  } finally {
    await teardown();
  }
  say(`${failed ? 'FAILED' : 'passed'} in ${Math.round((Date.now() - startedAt) / 1000)} s`);
  return failed ? 1 : 0;
}

/** Until each gateway has a media link open to every bridge (gateway /metrics, on the compose network). */
async function waitForLinks(gatewayAddresses: string[]): Promise<void> {
  const bridges = SMOKE.replicas['realtime-bridge'];
  const deadline = Date.now() + SMOKE.timeouts.linksMs;
  for (;;) {
    const open = await Promise.all(gatewayAddresses.map((ip) => linksOpen(ip)));
    if (open.every((n) => n >= bridges)) return say(`every gateway has ${bridges} media links open`);
    if (Date.now() > deadline)
      throw new StackError(`gateways' media links open: ${open.join(', ')}; expected ${bridges} each`);
    await new Promise((resolve) => setTimeout(resolve, SMOKE.timeouts.pollMs));
  }
}

async function linksOpen(ip: string): Promise<number> {
  try {
    const res = await fetch(`http://${ip}:${SMOKE.ports.gateway}/metrics`, {
      signal: AbortSignal.timeout(SMOKE.timeouts.dockerQueryMs),
    });
    const m = /^media_link_open(?:\{[^}]*\})? (\d+)/m.exec(await res.text());
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`[compose:smoke] failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
