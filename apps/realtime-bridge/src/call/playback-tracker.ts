/**
 * Tracks what the caller has actually heard of each assistant item, from the
 * marks Twilio echoes when playback reaches them.
 *
 * The bridge sends a mark at the start of every assistant item and after every
 * audio delta. Between two echoes audio plays continuously at real time, so
 * "heard" = last echoed position + time since that echo, capped at what was sent.
 * On barge-in the item is truncated at min(sent, heard + margin): the model then
 * forgets what the caller never heard.
 */
import { bytesToMs } from '@voice/protocols';

interface ItemPlayback {
  itemId: string;
  sentMs: number;
  /** Position (ms into the item) of the last echoed mark, and when its echo arrived. */
  echoedMs: number | undefined;
  echoedAt: number;
  truncated: boolean;
}

export interface BargeInDecision {
  itemId: string;
  sentMs: number;
  playedMs: number;
  audioEndMs: number;
}

const MARK_SEPARATOR = '|';

export class PlaybackTracker {
  private readonly items = new Map<string, ItemPlayback>();
  private current: ItemPlayback | undefined;

  constructor(
    private readonly marginMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Registers audio sent for `itemId`; returns the marks to send (start-of-item mark first, then end-of-delta). */
  onAudioSent(itemId: string, bytes: number): string[] {
    const marks: string[] = [];
    let item = this.items.get(itemId);
    if (!item) {
      item = { itemId, sentMs: 0, echoedMs: undefined, echoedAt: 0, truncated: false };
      this.items.set(itemId, item);
      marks.push(markName(itemId, 0));
    }
    this.current = item;
    item.sentMs += bytesToMs(bytes);
    marks.push(markName(itemId, item.sentMs));
    return marks;
  }

  /** True when deltas for this item must be dropped (the caller interrupted it). */
  isTruncated(itemId: string): boolean {
    return this.items.get(itemId)?.truncated ?? false;
  }

  /** A mark echoed by Twilio. Echoes for truncated items are the flush of a clear: not played. */
  onMarkEchoed(name: string): void {
    const parsed = parseMarkName(name);
    if (!parsed) return;
    const item = this.items.get(parsed.itemId);
    if (!item || item.truncated) return;
    if (item.echoedMs === undefined || parsed.positionMs >= item.echoedMs) {
      item.echoedMs = parsed.positionMs;
      item.echoedAt = this.now();
    }
  }

  /** Ms of `itemId` the caller has heard by now. */
  playedMs(item: ItemPlayback): number {
    if (item.echoedMs === undefined) return 0;
    return Math.min(item.sentMs, item.echoedMs + (this.now() - item.echoedAt));
  }

  /** Whether the caller may still be hearing assistant audio. */
  isSpeaking(): boolean {
    const item = this.current;
    return item !== undefined && !item.truncated && this.playedMs(item) < item.sentMs;
  }

  /** Decides the truncation for a barge-in, or undefined when nothing is playing. */
  bargeIn(): BargeInDecision | undefined {
    const item = this.current;
    if (!item || item.truncated) return undefined;
    const playedMs = this.playedMs(item);
    if (playedMs >= item.sentMs) return undefined;
    item.truncated = true;
    const audioEndMs = Math.floor(Math.min(item.sentMs, playedMs + this.marginMs));
    return { itemId: item.itemId, sentMs: item.sentMs, playedMs, audioEndMs };
  }

  /** Total ms of assistant audio sent in this call. */
  totalSentMs(): number {
    let total = 0;
    for (const item of this.items.values()) total += item.sentMs;
    return total;
  }
}

export function markName(itemId: string, positionMs: number): string {
  return `${itemId}${MARK_SEPARATOR}${Math.round(positionMs)}`;
}

export function parseMarkName(name: string): { itemId: string; positionMs: number } | undefined {
  const at = name.lastIndexOf(MARK_SEPARATOR);
  if (at <= 0) return undefined;
  const positionMs = Number(name.slice(at + 1));
  return Number.isFinite(positionMs) ? { itemId: name.slice(0, at), positionMs } : undefined;
}
