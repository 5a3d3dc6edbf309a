/**
 * knex's own logger for the CLI. By default knex prints warnings with stacks to
 * stdout; the CLI already reports the error that ends a command in one line, so
 * the duplicate connection warning is dropped and anything else is kept short.
 */
import type { Knex } from 'knex';

/** knex warns this (with a stack) right before rethrowing the same error to us. */
const DUPLICATED_WARNING_PREFIX = 'Acquire connection error';

function firstLine(message: unknown): string {
  const text = typeof message === 'string' ? message : JSON.stringify(message);
  return text.split('\n', 1)[0] ?? text;
}

export const cliKnexLog: Knex.Logger = {
  warn(message: unknown) {
    const line = firstLine(message);
    if (!line.startsWith(DUPLICATED_WARNING_PREFIX)) process.stderr.write(`knex: ${line}\n`);
  },
  error(message: unknown) {
    process.stderr.write(`knex: ${firstLine(message)}\n`);
  },
  deprecate(method: string, alternative: string) {
    process.stderr.write(`knex: ${method} is deprecated, use ${alternative}\n`);
  },
  debug() {
    // Query debugging is opt-in via DEBUG=knex:*, not the CLI's business.
  },
};
