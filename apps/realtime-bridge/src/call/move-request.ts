/**
 * Shutting down: asking the gateway to move a live call to another bridge (`rehome`), paced
 * so the switch cuts nothing and the gateway is not asked too often. Nothing is cut: a reply the
 * agent is giving or about to give (our response.create not yet answered), a tool still running (its output would reach the conversation record after the
 * new bridge read it), a keypad entry the caller is still typing (answered here if it ends in time;
 * past the wait, its keys go with the `rehome` and the new bridge ends it as one entry). A key
 * already on its way here when the gateway read the ask follows the call too (`giveBackKey`).
 */
import type { CallState } from './call-state.js';
import type { GatewayChannel } from './gateway-channel.js';

export type MoveAnswer = 'asked' | 'waiting' | 'not_live';

/** A response.created comes within milliseconds of our response.create; past this, the request was refused. */
const REPLY_REQUEST_WAIT_MS = 1000;
/**
 * A key that reaches this bridge this soon after it asked to move the call was on the link before
 * the gateway read the ask (the link's one-way latency: well under a millisecond idle, tens of
 * milliseconds on a loaded host); the gateway holds the keys for the move from then on.
 */
const KEY_IN_FLIGHT_MS = 250;
/**
 * Keys given back per ask, at most: a move that fails at once sends the keys back here, and each
 * give-back starts another move attempt at the gateway; past this the keys stay here as an entry.
 */
const MAX_KEYS_GIVEN_BACK = 4;

export interface MoveRequestDeps {
  state: CallState;
  channel: GatewayChannel;
  isFallingBack(): boolean;
  /** A tool is running or a keypad entry is being typed: a switch now would lose or split it. */
  turnOpen(): boolean;
  /** The keys of an entry still being typed, taken from here (the wait for it ran out): they move with the call. */
  takeOpenEntry(): string;
}

export class MoveRequest {
  /** When shutdown first wanted this call moved, and last asked the gateway to (askToMove). */
  private moveWantedAt: number | undefined;
  private moveAskedAt: number | undefined;
  private keysGivenBack = 0;

  constructor(private readonly deps: MoveRequestDeps) {}

  /**
   * Asks the gateway to move the call (`rehome`), again every `retryMs` while it is still here.
   * Asked between the agent's replies and outside tool runs and keypad entries, so none is cut by
   * the switch, unless the wait has lasted `replyWaitMs`. Returns 'waiting' while it waits.
   */
  askToMove(timings: { retryMs: number; replyWaitMs: number }): MoveAnswer {
    const { state, channel } = this.deps;
    if (state.phase !== 'live' || this.deps.isFallingBack() || !channel.attached) return 'not_live';
    const now = Date.now();
    this.moveWantedAt ??= now;
    const busy = state.activeResponseId !== undefined || this.deps.turnOpen() || this.replyRequested(now);
    if (busy && now - this.moveWantedAt < timings.replyWaitMs) return 'waiting';
    if (this.moveAskedAt !== undefined && now - this.moveAskedAt < timings.retryMs) return 'asked';
    this.moveAskedAt = now;
    this.keysGivenBack = 0;
    const keys = this.deps.takeOpenEntry();
    channel.send(keys === '' ? { t: 'rehome' } : { t: 'rehome', keys });
    return 'asked';
  }

  /**
   * A key that arrives just after the ask was pressed before the gateway began the move: it goes
   * back to the gateway with another `rehome` (after any keys of an entry begun here), which puts
   * it with the keys it holds for the move, instead of starting an entry here that the hand-over
   * would drop. False: not given back, the key is this bridge's.
   */
  giveBackKey(digit: string): boolean {
    const { state, channel } = this.deps;
    if (this.moveAskedAt === undefined || Date.now() - this.moveAskedAt > KEY_IN_FLIGHT_MS) return false;
    if (this.keysGivenBack >= MAX_KEYS_GIVEN_BACK || state.phase !== 'live' || !channel.attached) return false;
    this.keysGivenBack++;
    channel.send({ t: 'rehome', keys: this.deps.takeOpenEntry() + digit });
    return true;
  }

  /** A response.create we sent is not answered yet (a refused one never is: bounded). */
  private replyRequested(now: number): boolean {
    const at = this.deps.state.responseRequestedAt;
    return at !== undefined && now - at < REPLY_REQUEST_WAIT_MS;
  }
}
