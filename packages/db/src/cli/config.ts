/**
 * The CLI's whole configuration: one variable, validated so a typo fails with
 * the variable's name instead of a driver error.
 */
import { z } from 'zod';
import { DEFAULT_DATABASE_URL, isPostgresUrl } from '../database-url.js';

const cliEnvSchema = z.object({
  DATABASE_URL: z
    .string()
    .default(DEFAULT_DATABASE_URL)
    .refine(isPostgresUrl, 'DATABASE_URL must be a postgres:// URL, e.g. postgres://postgres@127.0.0.1:5432/postgres'),
});

export interface CliConfig {
  databaseUrl: string;
}

export class CliConfigError extends Error {
  override readonly name = 'CliConfigError';
}

export function loadCliConfig(env: NodeJS.ProcessEnv): CliConfig {
  const parsed = cliEnvSchema.safeParse(env);
  if (!parsed.success) {
    throw new CliConfigError(parsed.error.issues.map((issue) => issue.message).join('; '));
  }
  return { databaseUrl: parsed.data.DATABASE_URL };
}
