/**
 * `npm run bench`: the system (webhook, media gateway, realtime bridge as
 * processes, audio over the media link, Redis for control) against a minimal direct bridge, on
 * the same doubles in the same run. Progress on stderr, one table on stdout,
 * the full result (histograms included) in bench-results/bench-<timestamp>.json.
 * `npm run bench -- --help` lists the flags; `--quick` finishes in under a minute.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '@voice/testkit';
import { redactUrlPassword } from '@voice/config';
import { BenchUsageError, USAGE, parseBenchFlags, type BenchFlags } from './bench/flags.js';
import { say } from './bench/progress.js';
import { redisServerAvailable, startPrivateRedis, type PrivateRedis } from './bench/private-redis.js';
import { runBench } from './bench/run.js';
import { renderTable } from './bench/table.js';
import { PreflightError, checkRedis, endpointsFromEnv, prepareDatabase } from './lib/preflight.js';

const RESULTS_DIR = join(REPO_ROOT, 'bench-results');
const EXIT_USAGE = 2;
const EXIT_INTERRUPTED = 130;

function parse(): BenchFlags | undefined {
  try {
    const flags = parseBenchFlags(process.argv.slice(2));
    if (flags !== 'help') return flags;
    console.log(USAGE);
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    process.exitCode = EXIT_USAGE;
  }
  return undefined;
}

/** The bench's own redis-server unless asked (or forced) to share REDIS_URL. */
async function chooseRedis(flags: BenchFlags, sharedUrl: string): Promise<PrivateRedis | undefined> {
  if (!flags.sharedRedis && redisServerAvailable()) {
    const redis = await startPrivateRedis();
    say(`private redis-server at ${redis.url} (its counts are the bench's alone)`);
    return redis;
  }
  await checkRedis({ url: sharedUrl });
  say(`sharing Redis at ${sharedUrl}: commands, memory and Redis CPU include any other client's`);
  return undefined;
}

async function main(flags: BenchFlags): Promise<void> {
  const endpoints = endpointsFromEnv(process.env);
  await prepareDatabase(endpoints.databaseUrl);
  const privateRedis = await chooseRedis(flags, endpoints.redis.url);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const cpuProfDir = flags.cpuProf ? join(RESULTS_DIR, `prof-${stamp}`) : undefined;
  const machine = `${cpus().length} cores (${cpus()[0]?.model.trim() ?? 'unknown'}), node ${process.version}, everything on this host`;
  say(
    `${flags.quick ? 'quick' : 'full'} run: calls ${flags.calls.join(', ')} x ${flags.durationS} s on ${flags.paths.join(', ')}`,
  );

  let stopRun: (() => Promise<void>) | undefined;
  process.once('SIGINT', () => {
    say('interrupted: stopping every process the bench started');
    void (stopRun?.() ?? Promise.resolve())
      .then(() => privateRedis?.stop())
      .finally(() => process.exit(EXIT_INTERRUPTED));
  });
  const redisUrl = privateRedis?.url ?? endpoints.redis.url;
  const run = await runBench(
    { flags, redisUrl, redisPid: privateRedis?.pid, databaseUrl: endpoints.databaseUrl, cpuProfDir },
    (stop) => (stopRun = stop),
  ).finally(() => privateRedis?.stop());

  const table = renderTable(run, flags, machine);
  process.stdout.write(`${table}\n`);
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = join(RESULTS_DIR, `bench-${stamp}.json`);
  const redis = privateRedis ? 'private redis-server' : `shared ${redactUrlPassword(endpoints.redis.url)}`;
  writeFileSync(file, JSON.stringify({ at: new Date().toISOString(), machine, redis, flags, table, ...run }, null, 2));
  say(`result written to ${file}${cpuProfDir ? `; CPU profiles in ${cpuProfDir}` : ''}`);
}

const flags = parse();
if (flags) {
  main(flags)
    .then(() => process.exit(0))
    .catch((err: unknown) => {
      const message =
        err instanceof PreflightError || err instanceof BenchUsageError
          ? err.message
          : err instanceof Error
            ? (err.stack ?? err.message)
            : String(err);
      process.stderr.write(`[bench] failed: ${message}\n`);
      process.exit(1);
    });
}
