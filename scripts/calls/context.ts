/**
 * What every command gets: the connections, the parsed configuration, where
 * its output goes, and the signal that stops a long-running command (Ctrl-C).
 */
import type { Knex } from 'knex';
import type { RedisClient } from '@voice/redis';
import type { CallsConfig } from './config.js';
import type { Output } from './output.js';

export interface CliContext {
  config: CallsConfig;
  redis: RedisClient;
  /** Runs queries; a failure becomes one line naming PostgreSQL by host and port. */
  db<T>(query: (knex: Knex) => Promise<T>): Promise<T>;
  out: Output;
  /** A message for the person (stderr), in human and --json mode alike. */
  note(text: string): void;
  /** Aborted on Ctrl-C / SIGTERM. */
  signal: AbortSignal;
  now(): number;
}
