/**
 * One call's timeline as a waterfall: each event's offset from the first and
 * the gap from the previous, a bar placing it on the call's time axis, and the
 * failing step (and any other trouble) marked.
 */
import type { TimelineEntry } from '@voice/redis';
import { TROUBLE_EVENTS, type Failure } from './failure.js';
import { formatFields, formatMs, isoTime, table } from './output.js';

/** failing_step: where the call went wrong; trouble: something went wrong there but it is not the failing step. */
export type Mark = 'failing_step' | 'trouble';

export interface WaterfallRow {
  entry: TimelineEntry;
  offsetMs: number;
  gapMs: number;
  mark: Mark | null;
}

export const WATERFALL_DEFAULTS = {
  /** Characters of the time-axis bar. */
  barWidth: 32,
} as const;

const MARK_PREFIX: Record<Mark | 'none', string> = { failing_step: '>>', trouble: '! ', none: '  ' };
const FAILING_STEP_NOTE = '  <== failing step';

export function waterfallRows(timeline: readonly TimelineEntry[], failure: Failure | undefined): WaterfallRow[] {
  const t0 = timeline[0]?.ts ?? 0;
  return timeline.map((entry, i) => ({
    entry,
    offsetMs: entry.ts - t0,
    gapMs: i === 0 ? 0 : entry.ts - timeline[i - 1]!.ts,
    mark: entry === failure?.step ? 'failing_step' : TROUBLE_EVENTS.has(entry.event) ? 'trouble' : null,
  }));
}

/** `|    --*          |`: dashes from the previous event to this one's star. */
function bar(offsetMs: number, previousMs: number, totalMs: number): string {
  const width = WATERFALL_DEFAULTS.barWidth;
  const at = (ms: number) => (totalMs <= 0 ? 0 : Math.round((ms / totalMs) * (width - 1)));
  const from = at(previousMs);
  const to = at(offsetMs);
  const cells = Array.from({ length: width }, (_, i) => (i === to ? '*' : i >= from && i < to ? '-' : ' '));
  return `|${cells.join('')}|`;
}

export function renderWaterfall(rows: readonly WaterfallRow[]): string[] {
  if (rows.length === 0) return [];
  const totalMs = rows[rows.length - 1]!.offsetMs;
  const offsetWidth = String(totalMs).length;
  const gapWidth = Math.max(...rows.map((r) => String(r.gapMs).length));
  const header = [
    '',
    `${'offset'.padStart(offsetWidth + 4)}`,
    `${'gap'.padStart(gapWidth + 1)}`,
    'event',
    'app/instance',
    `|0${formatMs(totalMs).padStart(WATERFALL_DEFAULTS.barWidth - 1)}|`,
    'fields',
  ];
  const lines = rows.map((row, i) => [
    MARK_PREFIX[row.mark ?? 'none'],
    `+${String(row.offsetMs).padStart(offsetWidth)} ms`,
    `+${String(row.gapMs).padStart(gapWidth)}`,
    row.entry.event,
    `${row.entry.app}/${row.entry.instance}`,
    bar(row.offsetMs, i === 0 ? 0 : rows[i - 1]!.offsetMs, totalMs),
    `${formatFields(row.entry.fields)}${row.mark === 'failing_step' ? FAILING_STEP_NOTE : ''}`,
  ]);
  return table([header, ...lines]);
}

export function waterfallRecord(row: WaterfallRow): Record<string, unknown> {
  const { entry } = row;
  return {
    id: entry.id,
    offset_ms: row.offsetMs,
    gap_ms: row.gapMs,
    at: isoTime(entry.ts),
    ts: entry.ts,
    event: entry.event,
    app: entry.app,
    instance: entry.instance,
    fields: entry.fields,
    mark: row.mark,
  };
}
