/**
 * The on-call CLI's one entry: parse the command line and the configuration,
 * connect, run the command, close. Every failure is one line on stderr with
 * no secret in it; exit codes: 0 done, 1 failed (unknown call, unreachable
 * Redis or PostgreSQL), 2 bad usage.
 */
import type { Writable } from 'node:stream';
import type { Knex } from 'knex';
import { ConfigError } from '@voice/config';
import type { EnvSource } from '@voice/config';
import { parseCommand, USAGE, type Command } from './args.js';
import { loadCallsConfig } from './config.js';
import { openConnections } from './connections.js';
import type { CliContext } from './context.js';
import { EXIT, oneLine, scrub, secretsOf, UsageError } from './errors.js';
import { failed } from './failed.js';
import { find } from './find.js';
import { live } from './live.js';
import { Output } from './output.js';
import { show } from './show.js';
import { tail } from './tail.js';

export interface CallsIo {
  argv: readonly string[];
  env: EnvSource;
  stdout: Writable;
  stderr: Writable;
  /** Aborted to stop a running command (Ctrl-C). */
  signal: AbortSignal;
}

function run(ctx: CliContext, command: Command): Promise<void> {
  switch (command.name) {
    case 'show':
      return show(ctx, command.callSid);
    case 'live':
      return live(ctx);
    case 'failed':
      return failed(ctx, command);
    case 'tail':
      return tail(ctx, command);
    case 'find':
      return find(ctx, command);
  }
}

export async function runCalls(io: CallsIo): Promise<number> {
  const secrets = secretsOf([io.env.DATABASE_URL, io.env.REDIS_URL]);
  const say = (text: string) => io.stderr.write(`${scrub(text, secrets)}\n`);

  let command: Command;
  try {
    command = parseCommand(io.argv, Date.now());
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    say(`calls: ${err.message}`);
    say(USAGE);
    return EXIT.usage;
  }

  let config;
  try {
    config = loadCallsConfig(io.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    say(`calls: ${err.message}`);
    return EXIT.failed;
  }

  let connections;
  try {
    connections = await openConnections(config);
  } catch (err) {
    say(`calls ${command.name}: ${oneLine(err)}`);
    return EXIT.failed;
  }
  const ctx: CliContext = {
    config,
    redis: connections.redis,
    async db<T>(query: (knex: Knex) => Promise<T>): Promise<T> {
      try {
        return await query(connections.knex);
      } catch (err) {
        throw new Error(`${connections.postgresWhere}: ${oneLine(err)}`, { cause: err });
      }
    },
    out: new Output(io.stdout, command.json),
    note: say,
    signal: io.signal,
    now: () => Date.now(),
  };
  try {
    await run(ctx, command);
    return EXIT.ok;
  } catch (err) {
    say(`calls ${command.name}: ${oneLine(err)}`);
    return EXIT.failed;
  } finally {
    await connections.close();
  }
}
