/**
 * The conversation as the double tracks it: item order (for previous_item_id),
 * assistant audio length (to validate truncates) and issued function calls
 * (to match tool outputs).
 */
import type { JsonObject } from './session-config.js';

export interface ConversationEntry {
  id: string;
  type: string;
  role: string | undefined;
  /** Assistant audio generated (sent) so far for this item, in ms. */
  audioMs: number;
  callId: string | undefined;
  /** The item as last reported to the client. */
  item: JsonObject;
}

export class Conversation {
  private readonly entries: ConversationEntry[] = [];

  /** Appends an item and returns the id of the item before it (null when first). */
  add(item: JsonObject): { entry: ConversationEntry; previousItemId: string | null } {
    const previousItemId = this.entries.at(-1)?.id ?? null;
    const entry: ConversationEntry = {
      id: String(item.id),
      type: String(item.type),
      role: typeof item.role === 'string' ? item.role : undefined,
      audioMs: 0,
      callId: typeof item.call_id === 'string' ? item.call_id : undefined,
      item,
    };
    this.entries.push(entry);
    return { entry, previousItemId };
  }

  get(id: string): ConversationEntry | undefined {
    return this.entries.find((e) => e.id === id);
  }

  previousOf(id: string): string | null {
    const index = this.entries.findIndex((e) => e.id === id);
    return index > 0 ? (this.entries[index - 1]?.id ?? null) : null;
  }

  remove(id: string): boolean {
    const index = this.entries.findIndex((e) => e.id === id);
    if (index < 0) return false;
    this.entries.splice(index, 1);
    return true;
  }

  userMessageCount(): number {
    return this.entries.filter((e) => e.type === 'message' && e.role === 'user').length;
  }

  hasAssistantMessage(): boolean {
    return this.entries.some((e) => e.type === 'message' && e.role === 'assistant');
  }

  hasFunctionCall(callId: string): boolean {
    return this.entries.some((e) => e.type === 'function_call' && e.callId === callId);
  }
}
