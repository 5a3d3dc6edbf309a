/**
 * What was said so far, as text, so a conversation can continue on a new
 * Realtime session if the first one drops mid-call. Assistant turns come from
 * the output transcripts; caller turns from input transcription when enabled.
 */
import type { ConversationItemCreateEvent } from 'openai/resources/realtime/realtime';

export interface ConversationTurn {
  role: 'user' | 'assistant';
  text: string;
}

/** Enough context to resume; older turns are dropped first. */
const MAX_TURNS = 20;

export class ConversationLog {
  private readonly turns: ConversationTurn[] = [];

  add(role: ConversationTurn['role'], text: string): void {
    const trimmed = text.trim();
    if (!trimmed) return;
    this.turns.push({ role, text: trimmed });
    if (this.turns.length > MAX_TURNS) this.turns.shift();
  }

  get size(): number {
    return this.turns.length;
  }

  /** The turns as conversation.item.create events for the new session. */
  toItems(): ConversationItemCreateEvent[] {
    return this.turns.map((turn) => ({
      type: 'conversation.item.create',
      item:
        turn.role === 'assistant'
          ? { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: turn.text }] }
          : { type: 'message', role: 'user', content: [{ type: 'input_text', text: turn.text }] },
    }));
  }
}
