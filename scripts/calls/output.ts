/**
 * Where a command's results go: lines for a person at a terminal, or with
 * --json one JSON object per line (each with a `type`), never both.
 */
import type { Writable } from 'node:stream';

export class Output {
  constructor(
    private readonly stream: Writable,
    readonly json: boolean,
  ) {}

  /** A line for a person (ignored under --json). */
  line(text = ''): void {
    if (!this.json) this.stream.write(`${text}\n`);
  }

  /** One JSON object (ignored without --json). */
  record(type: string, fields: Record<string, unknown>): void {
    if (this.json) this.stream.write(`${JSON.stringify({ type, ...fields })}\n`);
  }
}

/** `1234 ms` below ten seconds, `12.3 s` above. */
export function formatMs(ms: number): string {
  const SECOND = 1000;
  const SHOW_SECONDS_FROM = 10 * SECOND;
  return Math.abs(ms) < SHOW_SECONDS_FROM ? `${Math.round(ms)} ms` : `${(ms / SECOND).toFixed(1)} s`;
}

/** `HH:MM:SS.mmm` in UTC (what was given, when it is no time at all). */
export function clockTime(at: Date | number | string): string {
  const date = new Date(at);
  return Number.isNaN(date.getTime()) ? String(at) : date.toISOString().slice(11, 23);
}

/** `YYYY-MM-DD HH:MM:SS.mmm` in UTC. */
export function dateTime(at: Date | number): string {
  return `${new Date(at).toISOString().slice(0, 10)} ${clockTime(at)}`;
}

export function isoTime(at: Date | number | null | undefined): string | null {
  return at === null || at === undefined ? null : new Date(at).toISOString();
}

/** `k=v k=v` of an event's own fields. */
export function formatFields(fields: Record<string, string>): string {
  return Object.entries(fields)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
}

/** Left-aligned columns: every cell padded to the widest in its column (the last is left as is). */
export function table(rows: ReadonlyArray<readonly string[]>): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd(),
  );
}
