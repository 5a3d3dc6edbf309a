/**
 * PostgreSQL SQLSTATE codes this package reacts to, and a guard for the errors
 * `pg` throws (knex passes them through unchanged).
 */

export const PG_UNIQUE_VIOLATION = '23505';
export const PG_FOREIGN_KEY_VIOLATION = '23503';
export const PG_CHECK_VIOLATION = '23514';
export const PG_NOT_NULL_VIOLATION = '23502';
export const PG_INVALID_TEXT_REPRESENTATION = '22P02';
/** statement_timeout ran out (or the statement was cancelled). */
export const PG_QUERY_CANCELED = '57014';
export const PG_DUPLICATE_DATABASE = '42P04';
export const PG_INVALID_CATALOG_NAME = '3D000';
export const PG_INVALID_PASSWORD = '28P01';
export const PG_INVALID_AUTHORIZATION = '28000';

export interface PgError extends Error {
  code: string;
  constraint?: string;
  detail?: string;
}

export function isPgError(error: unknown): error is PgError {
  return error instanceof Error && typeof (error as { code?: unknown }).code === 'string';
}

export function hasPgCode(error: unknown, ...codes: string[]): error is PgError {
  return isPgError(error) && codes.includes(error.code);
}

/** What Postgres said, short enough for a timeline field: knex puts the whole SQL statement before it. */
export function postgresReason(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const said = message.split(' - ').pop() ?? message;
  return (isPgError(err) ? `${err.code} ${said}` : said).slice(0, 200);
}
