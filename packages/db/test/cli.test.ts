import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { testDatabaseUrl, prepareTestDatabase, closeDatabase } from '@voice/db';

const CLI = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
const CLOSED_PORT_URL = 'postgres://postgres@127.0.0.1:1/x';

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

// The same command line `npm run db:migrate` uses.
function runCli(args: string[], databaseUrl: string): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', CLI, ...args], {
      env: { ...process.env, DATABASE_URL: databaseUrl },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function lines(text: string): string[] {
  return text.split('\n').filter((line) => line.trim() !== '');
}

describe('db CLI', () => {
  before(async () => {
    // Makes sure voice_test exists, then lets the CLI connect to it itself.
    const { knex } = await prepareTestDatabase();
    await closeDatabase(knex);
  });

  it('prints one clear line and exits 1 when PostgreSQL is not reachable', async () => {
    const run = await runCli(['migrate'], CLOSED_PORT_URL);
    expect(run.code).to.equal(1);
    expect(run.stdout).to.equal('');
    expect(lines(run.stderr)).to.deep.equal([
      `cannot reach PostgreSQL at ${CLOSED_PORT_URL}: ECONNREFUSED. Is it running?`,
    ]);
  });

  it('migrates and seeds a reachable database, printing one line each', async () => {
    const url = testDatabaseUrl();
    const migrate = await runCli(['migrate'], url);
    expect(migrate.code, migrate.stderr).to.equal(0);
    expect(lines(migrate.stdout)).to.have.length(1);

    const seed = await runCli(['seed'], url);
    expect(seed.code, seed.stderr).to.equal(0);
    expect(lines(seed.stdout)).to.deep.equal([
      `seeded demo business "Acme Dental" (a0c3e000-de40-4000-8000-000000000001) answering +15005550006`,
    ]);
  });

  it('names the variable when DATABASE_URL is not a postgres URL', async () => {
    const run = await runCli(['migrate'], 'localhost:5432');
    expect(run.code).to.equal(1);
    expect(lines(run.stderr)).to.have.length(1);
    expect(run.stderr).to.match(/^DATABASE_URL must be a postgres:\/\/ URL/);
  });

  it('prints usage and exits 2 for an unknown command', async () => {
    const run = await runCli(['migrat'], CLOSED_PORT_URL);
    expect(run.code).to.equal(2);
    expect(run.stderr).to.match(/^usage: db <migrate\|seed\|rollback>/);
  });
});
