import { z } from 'zod';
import { ConfigError } from './config-error.js';
import { redactUrlPassword } from './redact.js';

export type EnvSource = Record<string, string | undefined>;

/**
 * Validates the environment against a schema whose keys are the variable names.
 * The first problem becomes a ConfigError naming that variable, so a bad deploy
 * fails at start with one clear line instead of deep inside a call.
 */
export function parseEnv<S extends z.ZodRawShape>(shape: S, env: EnvSource): z.infer<z.ZodObject<S>> {
  const schema = z.object(shape);
  // Empty strings are treated as unset: `FOO=` in a .env file should mean "use the default".
  const cleaned: EnvSource = {};
  for (const key of Object.keys(shape)) {
    const value = env[key];
    cleaned[key] = value === undefined || value.trim() === '' ? undefined : value.trim();
  }
  const result = schema.safeParse(cleaned);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const variable = String(issue.path[0] ?? 'environment');
    const given = cleaned[variable];
    const shown = given === undefined ? 'is not set' : `is "${redact(variable, given)}"`;
    throw new ConfigError(variable, `${shown}: ${issue.message}`);
  }
  return result.data;
}

/** A secret variable is not shown at all; any other value without the password a URL may carry. */
function redact(variable: string, value: string): string {
  return /KEY|TOKEN|SECRET|PASSWORD/i.test(variable) ? '<redacted>' : redactUrlPassword(value);
}
