/**
 * `npm test`'s runner (scripts/test.ts) on a machine where nothing answers on
 * the default addresses: a fresh network namespace (unshare -n, root only),
 * where 127.0.0.1 has nothing listening. It starts Redis and Postgres, the
 * mocha process gets their URLs, and they are stopped and their files
 * removed after a passing and after a failing run alike.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { expect } from 'chai';
import { REPO_ROOT } from '@voice/testkit';

const FIXTURE = 'test/infra/fixtures/sees-local-services.spec.ts';
/** initdb on a busy machine, plus mocha's start. */
const RUN_TIMEOUT_MS = 180_000;
const EXIT_TESTS_FAILED = 1;

function canIsolateNetwork(): boolean {
  return spawnSync('unshare', ['-n', 'ip', 'link', 'set', 'lo', 'up'], { stdio: 'ignore' }).status === 0;
}

function localServiceDirs(): string[] {
  return readdirSync(tmpdir()).filter((d) => d.startsWith('voice-local-services-'));
}

function runIsolated(env: Record<string, string>): { status: number | null; output: string } {
  const script = `ip link set lo up && exec node --conditions=source --import tsx scripts/test.ts ${FIXTURE}`;
  // No REDIS_URL / DATABASE_URL: the runner must find nothing and start its own.
  const { REDIS_URL: _r, DATABASE_URL: _d, REDIS_CLUSTER_NODES: _c, ...rest } = process.env;
  const out = spawnSync('unshare', ['-n', 'sh', '-c', script], {
    cwd: REPO_ROOT,
    env: { ...rest, ...env },
    encoding: 'utf8',
    timeout: RUN_TIMEOUT_MS,
  });
  return { status: out.status, output: `${out.stdout}${out.stderr}` };
}

describe('npm test on a machine with nothing running (scripts/test.ts)', function () {
  this.timeout(RUN_TIMEOUT_MS * 2);

  before(function () {
    if (!canIsolateNetwork()) this.skip(); // needs root and util-linux's unshare: the suite itself runs as root in CI
  });

  it('starts Redis and Postgres, hands their URLs to mocha, and removes them after a passing run', function () {
    const before = localServiceDirs();
    const run = runIsolated({});
    expect(run.status, run.output).to.equal(0);
    const started =
      /\[test\] nothing answered, so started for this run only: redis-server on 127\.0\.0\.1:(\d+) \(persistence off\) and embedded PostgreSQL on 127\.0\.0\.1:(\d+)/.exec(
        run.output,
      );
    expect(started, run.output).not.to.equal(null);
    expect(run.output).to.include(`fixture-saw ${started![1]} ${started![2]}`);
    expect(localServiceDirs()).to.deep.equal(before);
  });

  it('stops them after a failing run too, with mocha’s exit code', function () {
    const before = localServiceDirs();
    const run = runIsolated({ FIXTURE_FAIL: '1' });
    expect(run.status, run.output).to.equal(EXIT_TESTS_FAILED);
    expect(run.output).to.include('deliberate failure');
    expect(localServiceDirs()).to.deep.equal(before);
  });
});
