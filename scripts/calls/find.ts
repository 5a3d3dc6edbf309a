/**
 * `calls find --number +E164 [--since 2h] [--until …]`: the calls from or to a
 * phone number in a time window, for an engineer who knows only the number a
 * customer called from (or the business's number) and roughly when.
 */
import { createCallSearch, type Call } from '@voice/db';
import type { CliContext } from './context.js';
import { dateTime, formatMs, table } from './output.js';
import { callFields } from './summary.js';

export interface FindOptions {
  number: string;
  since: Date;
  until: Date | undefined;
  limit: number;
}

export async function find(ctx: CliContext, options: FindOptions): Promise<void> {
  const calls = await ctx.db((knex) =>
    createCallSearch(knex).byNumber(options.number, {
      since: options.since,
      until: options.until,
      limit: options.limit,
    }),
  );
  const { out } = ctx;
  for (const call of calls) out.record('call', callFields(call));
  const window = `since ${options.since.toISOString()}${options.until ? ` until ${options.until.toISOString()}` : ''}`;
  if (calls.length === 0) {
    out.line(`no calls from or to ${options.number} ${window}`);
    return;
  }
  out.line(
    `${calls.length} call${calls.length === 1 ? '' : 's'} from or to ${options.number} ${window}, newest first${calls.length === options.limit ? ` (first ${options.limit}; --limit for more)` : ''}`,
  );
  out.line();
  const header = ['received (UTC)', 'CallSid', 'dir', 'from -> to', 'status', 'end reason', 'duration'];
  for (const line of table([header, ...calls.map(row)])) out.line(line);
  out.line();
  out.line(`details: npm run calls -- show ${calls[0]!.callSid}`);
}

function row(call: Call): string[] {
  const fields = callFields(call);
  return [
    call.receivedAt ? dateTime(call.receivedAt) : '-',
    call.callSid,
    call.direction ?? '-',
    `${call.from ?? '?'} -> ${call.to ?? '?'}`,
    call.silentFailure ? `${call.status} (silent)` : call.status,
    call.endReason ?? '-',
    typeof fields.duration_ms === 'number' ? formatMs(fields.duration_ms) : '-',
  ];
}
