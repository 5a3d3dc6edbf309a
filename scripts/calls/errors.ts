/**
 * What can end a `npm run calls` command, as named errors with their exit code,
 * and the scrubbing every error line goes through so that no password or token
 * ever reaches the terminal (drivers like to echo the URL they failed on).
 */

export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/** Bad arguments: the usage text follows, exit 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** The CallSid is in neither PostgreSQL nor Redis. */
export class CallNotFoundError extends Error {
  override name = 'CallNotFoundError';
  constructor(callSid: string) {
    super(
      `no call ${callSid} in PostgreSQL or Redis (timelines expire after 7 days; check the CallSid and REDIS_NAMESPACE/DATABASE_URL)`,
    );
  }
}

/** Redis or PostgreSQL did not answer. */
export class UnreachableError extends Error {
  override name = 'UnreachableError';
}

const REDACTED = '***';
/** `scheme://user:password@` anywhere in a text. */
const URL_CREDENTIALS = /([a-z][a-z0-9+.-]*:\/\/)([^/\s:@]*):([^@\s/]*)@/gi;

/**
 * Passwords inside the connection URLs the CLI was given, to be blanked out of
 * any text it prints (an error may quote one without its URL around it).
 */
export function secretsOf(urls: ReadonlyArray<string | undefined>): string[] {
  const secrets = new Set<string>();
  for (const url of urls) {
    if (!url) continue;
    try {
      const { password } = new URL(url);
      if (password) {
        secrets.add(password);
        secrets.add(decodeURIComponent(password));
      }
    } catch {
      // Not a URL: config validation reports it (scrubbed like everything else).
    }
  }
  return [...secrets];
}

/** The text with URL credentials and the known secrets replaced. */
export function scrub(text: string, secrets: readonly string[]): string {
  let out = text.replace(URL_CREDENTIALS, `$1$2:${REDACTED}@`);
  for (const secret of secrets) out = out.split(secret).join(REDACTED);
  return out;
}

/** One line: the first line of an error's message. */
export function oneLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split('\n', 1)[0] ?? text;
}
