/**
 * Helpers for PostgreSQL connection URLs: the documented default, switching the
 * database name (test databases live on the same server), and a form that is
 * safe to print.
 */

/** The documented default for `DATABASE_URL` (see CONTRACT.md). */
export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

const POSTGRES_PROTOCOLS: readonly string[] = ['postgres:', 'postgresql:'];
const REDACTED = '***';

/** True when `url` parses as a postgres:// or postgresql:// URL. */
export function isPostgresUrl(url: string): boolean {
  try {
    return POSTGRES_PROTOCOLS.includes(new URL(url).protocol);
  } catch {
    return false;
  }
}

/** The same server and credentials, another database. */
export function withDatabaseName(url: string, databaseName: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${encodeURIComponent(databaseName)}`;
  return parsed.toString();
}

/** The URL with its password replaced, so it can go into logs and error lines. */
export function redactDatabaseUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = REDACTED;
    return parsed.toString();
  } catch {
    // Not a URL at all: never echo it back, it may still hold a secret.
    return '<unparseable DATABASE_URL>';
  }
}
