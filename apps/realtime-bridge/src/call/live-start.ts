/**
 * Putting a call live: audio flows both ways between the caller and the model session.
 * A new call greets first; a call taken over from another bridge resumes where it was; a
 * session that replaced a dropped one picks the conversation up again.
 */
import type { Handover } from '@voice/media-link';
import { recordResumed, resumeReply } from './call-resume.js';
import type { CallerStream } from './caller-stream.js';
import type { CallState } from './call-state.js';
import type { CallTimeline } from './call-timeline.js';
import type { ConversationRecord } from './conversation-record.js';
import type { DtmfInput } from './dtmf-input.js';
import type { GreetingGuard } from './greeting-guard.js';
import type { HoldAudio } from './hold-audio.js';
import type { SessionRecycler } from './session-recycler.js';

export type GoLiveKind = 'greeting' | 'resume' | 'resume-after-warm' | 'handover';

export interface LiveStartDeps {
  state: CallState;
  caller: CallerStream;
  recycler: SessionRecycler;
  hold: HoldAudio;
  conversation: ConversationRecord;
  tl: CallTimeline;
  /** Keypad entries that ended while no session was live go to this one. */
  dtmf: DtmfInput;
  /** Asks for the greeting, and once more if the model refuses it or ends it without a sound. */
  greeting: GreetingGuard;
  instanceId: string;
}

export class LiveStart {
  constructor(private readonly deps: LiveStartDeps) {}

  /** The agent is asked to speak first; its first response is the greeting (warm.ready says so on the warm path). */
  requestGreeting(): void {
    this.deps.state.stats.greetingRequestedAt = Date.now();
    this.deps.greeting.request();
  }

  /**
   * A call taken over from another bridge goes live on a session given the conversation so far:
   * no greeting, unless nothing had been said; a reply the caller was owed (cut by the old
   * bridge's death) is asked for again; else the session listens and the caller's hold ends.
   */
  resumeHandedOver(handover: Handover, replayed: number): void {
    const { deps } = this;
    const reply = resumeReply(deps.conversation);
    if (reply === 'greeted') {
      // Nothing had been said: the greeting is this session's, made after the call started.
      deps.state.stats.greetedElsewhere = false;
      deps.state.stats.greetingPath = 'cold';
    }
    // 'resume' asks for the owed reply inside goLive, ahead of any keypad entry that waited for this session.
    this.goLive(reply === 'greeted' ? 'greeting' : reply === 'reasked' ? 'resume' : 'handover');
    if (reply === 'none') deps.hold.stop();
    void recordResumed(deps.tl, handover, deps.instanceId, replayed, reply);
  }

  /** Audio flows both ways; caller frames that arrived meanwhile go to the model in order. Returns how many. */
  goLive(kind: GoLiveKind): number {
    const { state, caller, recycler, tl } = this.deps;
    state.phase = 'live';
    if (kind === 'greeting') this.requestGreeting();
    // After a dropped session (or a move that cut a reply) the agent picks the conversation up again.
    if (kind === 'resume') state.rt!.send({ type: 'response.create' });
    const rt = state.rt!;
    const buffered = caller.connect((audio) => rt.send({ type: 'input_audio_buffer.append', audio }));
    recycler.start();
    // After the response this kind asks for, so the greeting or the resumed reply is not refused for it.
    this.deps.dtmf.onLive();
    // Cold: greeting requested and audio flowing, one entry (warm.joined carries it on the warm path).
    if (kind === 'greeting')
      void tl.record('audio_bridge.started', { buffered_frames: buffered, greeting_requested: true });
    return buffered;
  }
}
