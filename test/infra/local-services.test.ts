/**
 * A laptop with nothing running (scripts/lib/local-services): with the
 * defaults pointed at ports where nothing listens, a real redis-server and an
 * embedded PostgreSQL are started, answer, and are gone with their files after
 * stop(); a set URL that does not answer is an error, never replaced; and
 * defaults that answer start nothing. The machine's own Redis and Postgres are
 * never touched: the defaults probed are injected.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { DEFAULT_DATABASE_URL, DEFAULT_REDIS_URL } from '@voice/config';
import { createDatabase } from '@voice/db';
import { freePort } from '@voice/testkit';
import {
  LocalServiceError,
  ensureLocalServices,
  type LocalServices,
} from '../../scripts/lib/local-services/local-services.js';
import { tcpAnswers } from '../../scripts/lib/local-services/tcp.js';
import { reportFigure } from '../support/figures.js';

/** initdb on a busy shared machine takes seconds; this only bounds a hang. */
const START_TIMEOUT_MS = 120_000;
const PROBE_MS = 500;

async function unusedDefaults(): Promise<{ redisUrl: string; databaseUrl: string }> {
  return {
    redisUrl: `redis://127.0.0.1:${await freePort()}`,
    databaseUrl: `postgres://postgres@127.0.0.1:${await freePort()}/postgres`,
  };
}

async function expectRejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

function portOf(url: string): number {
  return Number(new URL(url).port);
}

describe('local services for a laptop with nothing running', function () {
  this.timeout(START_TIMEOUT_MS);
  let services: LocalServices | undefined;

  afterEach(async function () {
    await services?.stop();
    services = undefined;
  });

  it('starts a redis-server and an embedded PostgreSQL when nothing answers on the defaults, and removes them at stop', async function () {
    const defaults = await unusedDefaults();
    services = await ensureLocalServices({ PATH: process.env.PATH }, { defaults });
    reportFigure('added start-up (redis-server + embedded PostgreSQL)', services.startupMs);

    expect(services.started).to.deep.equal(['redis', 'postgres']);
    expect(services.summary).to.match(
      /^nothing answered, so started for this run only: redis-server on 127\.0\.0\.1:\d+ \(persistence off\) and embedded PostgreSQL on 127\.0\.0\.1:\d+ \(\+\d+\.\d s start-up/,
    );
    expect(services.summary).not.to.include(new URL(services.env.DATABASE_URL).password);
    const { REDIS_URL: redisUrl, DATABASE_URL: databaseUrl } = services.env;
    expect(redisUrl).not.to.equal(defaults.redisUrl);
    expect(databaseUrl).not.to.equal(defaults.databaseUrl);

    const redis = new Redis(redisUrl!);
    try {
      expect(await redis.ping()).to.equal('PONG');
      expect(await redis.config('GET', 'save')).to.deep.equal(['save', '']);
      expect(await redis.config('GET', 'appendonly')).to.deep.equal(['appendonly', 'no']);
    } finally {
      redis.disconnect();
    }
    const knex = createDatabase(databaseUrl);
    try {
      const result = await knex.raw<{ rows: Array<{ version: string }> }>('select version()');
      expect(result.rows[0]!.version).to.match(/^PostgreSQL \d+/);
    } finally {
      await knex.destroy();
    }

    const dir = services.dir!;
    expect(existsSync(dir)).to.equal(true);
    await services.stop();
    services = undefined;
    expect(existsSync(dir), 'temp dir removed').to.equal(false);
    expect(await tcpAnswers('127.0.0.1', portOf(redisUrl!), PROBE_MS), 'redis-server stopped').to.equal(false);
    expect(await tcpAnswers('127.0.0.1', portOf(databaseUrl), PROBE_MS), 'PostgreSQL stopped').to.equal(false);
  });

  it('never replaces a set REDIS_URL or DATABASE_URL that does not answer: a clear error, nothing started', async function () {
    const defaults = await unusedDefaults();
    const deadRedis = `redis://127.0.0.1:${await freePort()}`;
    const redisErr = await expectRejection(
      ensureLocalServices({ PATH: process.env.PATH, REDIS_URL: deadRedis }, { defaults }),
    );
    expect(redisErr).to.be.instanceOf(LocalServiceError);
    expect(redisErr.message)
      .to.include('REDIS_URL is set but nothing answers')
      .and.include('nothing is started in its place');

    const deadDb = `postgres://postgres:secret-pw@127.0.0.1:${await freePort()}/postgres`;
    const dbErr = await expectRejection(
      ensureLocalServices({ PATH: process.env.PATH, DATABASE_URL: deadDb }, { defaults }),
    );
    expect(dbErr).to.be.instanceOf(LocalServiceError);
    expect(dbErr.message).to.include('DATABASE_URL is set but nothing answers').and.not.include('secret-pw');
    // Nothing was left running on the defaults either.
    expect(await tcpAnswers('127.0.0.1', portOf(defaults.redisUrl), PROBE_MS)).to.equal(false);
  });

  it('starts nothing when the defaults answer', async function () {
    // The Redis and Postgres this suite runs on stand in for "the defaults".
    const defaults = {
      redisUrl: process.env.REDIS_URL || DEFAULT_REDIS_URL,
      databaseUrl: process.env.DATABASE_URL || DEFAULT_DATABASE_URL,
    };
    services = await ensureLocalServices({ PATH: process.env.PATH }, { defaults });
    expect(services.started).to.deep.equal([]);
    expect(services.summary).to.equal(undefined);
    expect(services.env).to.deep.equal({ REDIS_URL: defaults.redisUrl, DATABASE_URL: defaults.databaseUrl });
  });

  it('says how to install Redis when there is no redis-server on PATH, and starts nothing', async function () {
    const emptyPath = mkdtempSync(join(tmpdir(), 'voice-empty-path-'));
    try {
      const defaults = await unusedDefaults();
      const err = await expectRejection(ensureLocalServices({ PATH: emptyPath }, { defaults }));
      expect(err).to.be.instanceOf(LocalServiceError);
      expect(err.message).to.include('no redis-server on PATH').and.include('apt-get install redis-server');
      expect(await tcpAnswers('127.0.0.1', portOf(defaults.databaseUrl), PROBE_MS)).to.equal(false);
    } finally {
      rmSync(emptyPath, { recursive: true, force: true });
    }
  });
});
