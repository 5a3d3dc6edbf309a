/**
 * Shutting down: asking the gateway to move a live call to another bridge (`rehome`), paced
 * so a reply the agent is giving is not cut by the switch and the gateway is not asked too often.
 */
import type { CallState } from './call-state.js';
import type { GatewayChannel } from './gateway-channel.js';

export type MoveAnswer = 'asked' | 'waiting' | 'not_live';

export interface MoveRequestDeps {
  state: CallState;
  channel: GatewayChannel;
  isFallingBack(): boolean;
}

export class MoveRequest {
  /** When shutdown first wanted this call moved, and last asked the gateway to (askToMove). */
  private moveWantedAt: number | undefined;
  private moveAskedAt: number | undefined;

  constructor(private readonly deps: MoveRequestDeps) {}

  /**
   * Asks the gateway to move the call (`rehome`), again every `retryMs` while it is still here.
   * Asked between the agent's replies, so a reply is not cut by the switch, unless one has lasted
   * `replyWaitMs`. Returns 'waiting' while it waits for a reply to end.
   */
  askToMove(timings: { retryMs: number; replyWaitMs: number }): MoveAnswer {
    const { state, channel } = this.deps;
    if (state.phase !== 'live' || this.deps.isFallingBack() || !channel.attached) return 'not_live';
    const now = Date.now();
    this.moveWantedAt ??= now;
    if (state.activeResponseId !== undefined && now - this.moveWantedAt < timings.replyWaitMs) return 'waiting';
    if (this.moveAskedAt !== undefined && now - this.moveAskedAt < timings.retryMs) return 'asked';
    this.moveAskedAt = now;
    channel.send({ t: 'rehome' });
    return 'asked';
  }
}
