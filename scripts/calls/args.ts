/**
 * The command line of `npm run calls -- <command>`, parsed into one typed
 * command (node's own parseArgs: unknown options are errors, not ignored).
 */
import { parseArgs } from 'node:util';
import { TIMELINE_EVENTS } from '@voice/redis';
import { UsageError } from './errors.js';

export const COMMAND_NAMES = ['show', 'live', 'failed', 'tail', 'find'] as const;
export type CommandName = (typeof COMMAND_NAMES)[number];

export const ARG_DEFAULTS = {
  /** `failed` looks this far back without --since. */
  failedSinceMs: 3600_000,
  /** `find` looks this far back without --since. */
  findSinceMs: 24 * 3600_000,
  /** Rows listed at most by find and failed (--limit). */
  limit: 50,
} as const;

export type Command =
  | { name: 'show'; json: boolean; callSid: string }
  | { name: 'live'; json: boolean }
  | { name: 'failed'; json: boolean; since: Date; limit: number }
  | { name: 'tail'; json: boolean; callSids: string[]; events: string[]; forMs: number | undefined }
  | { name: 'find'; json: boolean; number: string; since: Date; until: Date | undefined; limit: number };

export const USAGE = `usage: npm run calls -- <command> [--json]
  show CA…                          one call: timeline waterfall, stage durations, failing step, transcript, usage/cost
  live                              live calls: owner bridge, gateway, age, state (and the bridges)
  failed [--since 1h] [--limit 50]  calls that fell back, failed silently, never started or were cut by a fault
  tail [--call CA…] [--event name[,name]] [--for 30s]
                                    timeline events of all live calls as they happen (Ctrl-C stops)
  find --number +E164 [--since 24h] [--until <time>] [--limit 50]
                                    calls from or to a phone number
--json: one JSON object per line. Times: 90s, 15m, 2h, 7d (ago) or an ISO time (2026-12-06T14:05Z).
Reads REDIS_URL (or REDIS_CLUSTER_NODES), DATABASE_URL and REDIS_NAMESPACE like the services.`;

const CALL_SID = /^CA[0-9a-f]{32}$/i;
const E164 = /^\+[1-9]\d{1,14}$/;
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3600_000, d: 86_400_000 };
/** Separators people type inside phone numbers: spaces, dashes, dots, parentheses. */
const NUMBER_PUNCTUATION = /[\s\-.()]/g;

export function parseDuration(text: string, option: string): number {
  const match = DURATION.exec(text.trim());
  if (!match) throw new UsageError(`${option} "${text}" is not a duration like 90s, 15m, 2h or 7d`);
  return Number(match[1]) * UNIT_MS[match[2]!]!;
}

/** A duration back from `now`, or an absolute ISO time. */
export function parseTime(text: string, option: string, now: number): Date {
  if (DURATION.test(text.trim())) return new Date(now - parseDuration(text, option));
  const at = new Date(text);
  if (Number.isNaN(at.getTime()))
    throw new UsageError(`${option} "${text}" is neither a duration (2h) nor a time (2026-12-06T14:05Z)`);
  return at;
}

export function parseCallSid(text: string | undefined): string {
  if (!text || !CALL_SID.test(text))
    throw new UsageError(`"${text ?? ''}" is not a CallSid (CA followed by 32 hex digits)`);
  return text;
}

function parseNumber(text: string): string {
  const number = text.replace(NUMBER_PUNCTUATION, '');
  if (!E164.test(number)) throw new UsageError(`--number "${text}" is not an E.164 phone number like +15005550006`);
  return number;
}

function parseLimit(text: string | undefined): number {
  if (text === undefined) return ARG_DEFAULTS.limit;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--limit "${text}" must be a positive integer`);
  return n;
}

function parseEvents(values: readonly string[]): string[] {
  const names = values
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter(Boolean);
  for (const name of names) {
    if (!(name in TIMELINE_EVENTS))
      throw new UsageError(`--event "${name}" is not a timeline event (see packages/redis/src/timeline-events.ts)`);
  }
  return names;
}

function isCommandName(name: string | undefined): name is CommandName {
  return (COMMAND_NAMES as readonly string[]).includes(name ?? '');
}

/** Throws UsageError on anything it does not understand. */
export function parseCommand(argv: readonly string[], now: number): Command {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        json: { type: 'boolean', default: false },
        since: { type: 'string' },
        until: { type: 'string' },
        limit: { type: 'string' },
        number: { type: 'string' },
        call: { type: 'string', multiple: true },
        event: { type: 'string', multiple: true },
        for: { type: 'string' },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values: v, positionals } = parsed;
  const [name, ...rest] = positionals;
  if (!isCommandName(name)) throw new UsageError(name === undefined ? 'no command given' : `unknown command "${name}"`);
  const allowed: Record<CommandName, readonly string[]> = {
    show: ['json'],
    live: ['json'],
    failed: ['json', 'since', 'limit'],
    tail: ['json', 'call', 'event', 'for'],
    find: ['json', 'number', 'since', 'until', 'limit'],
  };
  const given = Object.keys(v).filter((k) => k !== 'json' || v.json);
  const stray = given.find((k) => !allowed[name].includes(k));
  if (stray) throw new UsageError(`${name} does not take --${stray}`);
  if (name !== 'show' && rest.length > 0) throw new UsageError(`${name} takes no argument "${rest[0]}"`);

  switch (name) {
    case 'show':
      if (rest.length !== 1) throw new UsageError('show takes exactly one CallSid');
      return { name, json: v.json, callSid: parseCallSid(rest[0]) };
    case 'live':
      return { name, json: v.json };
    case 'failed':
      return {
        name,
        json: v.json,
        since: v.since ? parseTime(v.since, '--since', now) : new Date(now - ARG_DEFAULTS.failedSinceMs),
        limit: parseLimit(v.limit),
      };
    case 'tail':
      return {
        name,
        json: v.json,
        callSids: (v.call ?? []).map(parseCallSid),
        events: parseEvents(v.event ?? []),
        forMs: v.for === undefined ? undefined : parseDuration(v.for, '--for'),
      };
    case 'find':
      if (v.number === undefined) throw new UsageError('find needs --number +E164');
      return {
        name,
        json: v.json,
        number: parseNumber(v.number),
        since: v.since ? parseTime(v.since, '--since', now) : new Date(now - ARG_DEFAULTS.findSinceMs),
        until: v.until ? parseTime(v.until, '--until', now) : undefined,
        limit: parseLimit(v.limit),
      };
  }
}
