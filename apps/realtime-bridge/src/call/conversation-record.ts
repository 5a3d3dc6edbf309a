/**
 * The bridge's side of a call's conversation record (`call:{CA}:conversation`,
 * see @voice/redis conversation-record.ts): each completed item is appended to
 * Redis as it completes and kept in an in-memory mirror in the same order, so
 * a recycled or resumed session replays it without a Redis read. A failed
 * Redis write is logged and the call goes on (the mirror still has it).
 */
import type { ConversationItemCreateEvent } from 'openai/resources/realtime/realtime';
import type { Logger } from '@voice/logging';
import { errorFields } from '@voice/logging';
import type { ConversationEntry, ConversationEntryInput, ConversationWriter } from '@voice/redis';

type Omitted<T> = T extends unknown ? Omit<T, 'ts'> : never;
export type NewConversationEntry = Omitted<ConversationEntryInput>;

/** Entries that are conversation items (what a new session is given back). */
const ITEM_KINDS: ReadonlySet<ConversationEntry['kind']> = new Set(['caller', 'agent', 'tool_call', 'tool_result']);

export class ConversationRecord {
  private readonly entries: ConversationEntry[] = [];

  constructor(
    private readonly callSid: string,
    private readonly writer: ConversationWriter,
    private readonly logger: Logger,
  ) {}

  /** Appends to the mirror now and to Redis in order (one XADD; writes to one key keep their order). */
  append(entry: NewConversationEntry): void {
    if ('text' in entry && !entry.text.trim()) return;
    const full = { ...entry, ts: Date.now() } as ConversationEntry;
    this.entries.push(full);
    this.writer.append(this.callSid, full).catch((err: unknown) => {
      this.logger.error('conversation record write failed', { kind: entry.kind, ...errorFields(err) });
    });
  }

  /**
   * Takes in what another bridge recorded before this one took the call over (read from Redis),
   * ahead of anything recorded here; nothing is written back.
   */
  adopt(earlier: readonly ConversationEntry[]): void {
    this.entries.unshift(...earlier);
  }

  /** The last conversation item (caller, agent, tool call or result), if any. */
  lastItem(): ConversationEntry | undefined {
    for (let i = this.entries.length - 1; i >= 0; i--)
      if (ITEM_KINDS.has(this.entries[i]!.kind)) return this.entries[i];
    return undefined;
  }

  /**
   * Redis is back after an outage (maybe restarted empty): if the record there lost entries, it
   * is rebuilt from the mirror, so a session resumed on another bridge replays the whole call.
   */
  async resync(): Promise<void> {
    try {
      if (await this.writer.rebuild(this.callSid, () => this.entries))
        this.logger.info('conversation record rebuilt after redis came back', { entries: this.entries.length });
    } catch (err) {
      this.logger.warn('conversation record rebuild failed', errorFields(err));
    }
  }

  /** Conversation items so far (caller, agent, tool calls and results). */
  get itemCount(): number {
    return this.entries.filter((e) => ITEM_KINDS.has(e.kind)).length;
  }

  /** Model sessions configured so far (session entries). */
  get sessionCount(): number {
    return this.entries.filter((e) => e.kind === 'session').length;
  }

  all(): readonly ConversationEntry[] {
    return this.entries;
  }

  /** Entries so far, of every kind (a position for `itemsSince`). */
  get entryCount(): number {
    return this.entries.length;
  }

  /** Items recorded after position `from` (what a session prepared earlier has not been given yet). */
  itemsSince(from: number): ConversationItemCreateEvent[] {
    return this.entries.slice(from).flatMap((entry) => {
      // The session prepared earlier already has every call whose output comes now.
      const item = toItem(entry, () => true);
      return item ? [{ type: 'conversation.item.create' as const, item }] : [];
    });
  }

  /**
   * The conversation as items for a new session (PROTOCOLS §4): caller turns as
   * user input_text, agent turns as assistant output_text, tool calls and their
   * outputs as function_call / function_call_output items. The most recent
   * `maxItems` are kept; an output whose call was dropped is dropped with it.
   */
  toItems(maxItems: number): ConversationItemCreateEvent[] {
    const items = this.entries.filter((e) => ITEM_KINDS.has(e.kind)).slice(-maxItems);
    const calls = new Set(items.flatMap((e) => (e.kind === 'tool_call' ? [e.call_id] : [])));
    const events: ConversationItemCreateEvent[] = [];
    for (const entry of items) {
      const item = toItem(entry, (id) => calls.has(id));
      if (item) events.push({ type: 'conversation.item.create', item });
    }
    return events;
  }
}

function toItem(
  entry: ConversationEntry,
  hasCall: (callId: string) => boolean,
): ConversationItemCreateEvent['item'] | undefined {
  switch (entry.kind) {
    case 'caller':
      return { type: 'message', role: 'user', content: [{ type: 'input_text', text: entry.text }] };
    case 'agent':
      return { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: entry.text }] };
    case 'tool_call':
      return { type: 'function_call', call_id: entry.call_id, name: entry.name, arguments: entry.arguments };
    case 'tool_result':
      return hasCall(entry.call_id)
        ? { type: 'function_call_output', call_id: entry.call_id, output: entry.output }
        : undefined;
    default:
      return undefined;
  }
}
