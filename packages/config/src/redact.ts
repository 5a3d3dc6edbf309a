/**
 * What may be printed of a configuration value. A URL's password
 * (`redis://:pw@host`, `postgres://user:pw@host/db`) never reaches a log line,
 * an error message or a CLI's output: the rest of the URL says where, which is
 * what a reader needs.
 */
export const REDACTED = '***';

/** Credentials between `scheme://` and `@`: `user:password` (or `:password`). */
const URL_PASSWORD = /^([a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*):[^@/?#\s]*@/i;

/** The value with the password of a URL (if it is one, and has one) replaced by `***`. */
export function redactUrlPassword(value: string): string {
  return value.replace(URL_PASSWORD, `$1:${REDACTED}@`);
}
