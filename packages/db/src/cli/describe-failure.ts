/**
 * Turns whatever a command threw into the one line an operator needs: what
 * failed, where, and what to check. Stack traces help nobody who just forgot
 * to start PostgreSQL.
 */
import { redactDatabaseUrl } from '../database-url.js';
import { isPgError, PG_INVALID_AUTHORIZATION, PG_INVALID_CATALOG_NAME, PG_INVALID_PASSWORD } from '../pg-errors.js';

/** Socket-level codes meaning "nothing usable is listening there". */
const UNREACHABLE_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
]);
/**
 * pg's connectionTimeoutMillis ("timeout expired") and knex's pool timeout
 * carry no code, only these messages.
 */
const CONNECT_TIMEOUT_MESSAGES = ['timeout expired', 'Timeout acquiring a connection'];
const CONNECT_TIMEOUT_CODE = 'connection timed out';

export function describeFailure(command: string, databaseUrl: string, error: unknown): string {
  const where = redactDatabaseUrl(databaseUrl);
  const unreachable = unreachableReason(error);
  if (unreachable !== null) return `cannot reach PostgreSQL at ${where}: ${unreachable}. Is it running?`;

  if (isPgError(error)) {
    if (error.code === PG_INVALID_PASSWORD || error.code === PG_INVALID_AUTHORIZATION) {
      return `PostgreSQL at ${where} refused the login: ${error.message}. Check the user and password in DATABASE_URL.`;
    }
    if (error.code === PG_INVALID_CATALOG_NAME) {
      return `PostgreSQL at ${where}: ${error.message}. Create it or point DATABASE_URL at an existing database.`;
    }
  }
  const message = error instanceof Error ? error.message : String(error);
  return `${command} failed against ${where}: ${firstLine(message)}`;
}

function unreachableReason(error: unknown): string | null {
  if (!(error instanceof Error)) return null;
  const code = socketCode(error);
  if (code !== null && UNREACHABLE_CODES.has(code)) return code;
  if (CONNECT_TIMEOUT_MESSAGES.some((text) => error.message.includes(text))) return CONNECT_TIMEOUT_CODE;
  return null;
}

// Node reports a host with several addresses (localhost: ::1 and 127.0.0.1) as
// an AggregateError whose own code may be missing; the first inner error has it.
function socketCode(error: Error): string | null {
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') return code;
  if (error instanceof AggregateError) {
    const first: unknown = error.errors[0];
    if (first instanceof Error) return socketCode(first);
  }
  return null;
}

function firstLine(text: string): string {
  return text.split('\n', 1)[0] ?? text;
}
