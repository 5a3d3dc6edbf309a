/**
 * The agent ends or transfers the call (the end_call and transfer_call tools).
 * Both act only once the caller has heard the agent's last words: the response
 * that carries the goodbye (or "transferring you now") must be done, and the
 * mark the bridge sent after its last audio must have come back from Twilio
 * (echoed once everything before it has played). Then the line is hung up
 * through the REST API (Status=completed), or redirected to `<Dial>`. Never a
 * timer: a slow network or a long goodbye only makes the wait longer.
 *
 * Which response carries the line: the Realtime API may put the spoken line and
 * the function call in one response (audio item, then function_call); then that
 * response is the line and no other is asked for. Or it answers with the
 * function call alone; then the function_call_output is followed by
 * response.create and the next response is the line.
 *
 * The caller speaking over the line (a barge-in cut it, or VAD cancelled it
 * before it played): end_call is cancelled, since the caller had more to say;
 * the model answers them and may call end_call again. transfer_call goes ahead
 * at once: the caller asked for a person, and after the clear nothing is left
 * to hear.
 *
 * Without Twilio REST credentials these tools are not offered (runnableTools).
 * A REST hangup that fails falls back to closing the stream (Twilio then runs
 * the TwiML after </Connect>); a failed transfer is told to the model, and the
 * call goes on.
 */
import type { RealtimeClientEvent, RealtimeServerEvent } from 'openai/resources/realtime/realtime';
import type { Logger } from '@voice/logging';
import { errorFields } from '@voice/logging';
import { AGENT_END_CALL_REASON, type TimelineFields } from '@voice/redis';
import { dialTwiml, type CallControl } from '../twilio/call-control.js';
import type { CallStats } from './call-stats.js';
import type { CallTimeline } from './call-timeline.js';
import type { GatewayChannel } from './gateway-channel.js';
import type { ResolvedPrompt } from './prompt-source.js';
import type { CallControlRequest } from './tool-executor.js';

/** Tools that act on the live call through Twilio's REST API. */
const CALL_CONTROL_TOOLS: ReadonlySet<string> = new Set(['end_call', 'transfer_call']);

/**
 * The business's tools this bridge can carry out. Without Twilio REST credentials the call
 * cannot be hung up or redirected (closing the stream would make Twilio run the TwiML after
 * </Connect>, the spoken fallback), so end_call and transfer_call are not offered at all.
 */
export function runnableTools(resolved: ResolvedPrompt, hasCallControl: boolean): ResolvedPrompt {
  if (hasCallControl) return resolved;
  const toolNames = resolved.prompt.toolNames.filter((name) => !CALL_CONTROL_TOOLS.has(name));
  return { ...resolved, prompt: { ...resolved.prompt, toolNames } };
}

type FunctionCallDone = Extract<RealtimeServerEvent, { type: 'response.function_call_arguments.done' }>;
type AgentAction = Exclude<CallControlRequest, { kind: 'transfer_refused' }>;

/** How a pending end_call or transfer_call ended. */
export type AgentControlOutcome = 'hung_up' | 'redirected' | 'cancelled' | 'refused' | 'unavailable' | 'failed';

const ALREADY_ENDING = JSON.stringify({ error: 'the call is already ending; say nothing more' });
const TRANSFER_UNAVAILABLE = JSON.stringify({
  transferred: false,
  error: 'transfers are not available right now; apologise and offer to take a message',
});
const TRANSFER_FAILED_NOTE = 'The transfer to a person failed. Apologise to the caller and offer to take a message.';

/** The response that speaks the closing line, and what the caller has heard of it. */
interface ClosingLine {
  action: AgentAction;
  reason: string | undefined;
  /** undefined until known: the next response.created when the model must be asked for the line. */
  responseId: string | undefined;
  done: boolean;
  /** The last mark sent after this response's audio, and whether Twilio echoed it. */
  lastMark: string | undefined;
  echoed: boolean;
  audioMs: number;
  doneAt: number | undefined;
}

export interface AgentControlDeps {
  tl: CallTimeline;
  channel: GatewayChannel;
  callControl: CallControl | undefined;
  stats: CallStats;
  logger: Logger;
  /** Sends to the current model session, if any. */
  send(event: RealtimeClientEvent): boolean;
  /** Whether a model session is live (a call from a session that just dropped is not acted on). */
  isLive(): boolean;
}

export class AgentControl {
  private line: ClosingLine | undefined;
  private acted = false;
  /** The latest response that sent audio, and its last mark (the line may be that response). */
  private lastAudio: { responseId: string; mark: string; ms: number; echoed: boolean } | undefined;
  private lastDoneResponseId: string | undefined;

  constructor(private readonly deps: AgentControlDeps) {}

  /** A call-control tool decided; returns whether the model must be asked for the line, and a replacement output. */
  onControl(request: CallControlRequest, call: FunctionCallDone): { respond: boolean; output?: string } {
    const { deps } = this;
    const reason = reasonOf(call.arguments);
    if (request.kind === 'transfer_refused') {
      void this.record('agent.transfer', 'refused', { reason: request.reason });
      return { respond: true };
    }
    if (this.line || this.acted) return { respond: false, output: ALREADY_ENDING };
    if (!deps.isLive()) return { respond: false };
    if (request.kind === 'transfer' && !deps.callControl) {
      void this.record('agent.transfer', 'unavailable', { reason: 'no_twilio_rest_credentials' }, 'warn');
      return { respond: true, output: TRANSFER_UNAVAILABLE };
    }
    const sameResponse = this.lastAudio?.responseId === call.response_id;
    this.line = {
      action: request,
      reason,
      responseId: sameResponse ? call.response_id : undefined,
      done: sameResponse && this.lastDoneResponseId === call.response_id,
      lastMark: sameResponse ? this.lastAudio?.mark : undefined,
      echoed: sameResponse && this.lastAudio?.echoed === true,
      audioMs: sameResponse ? (this.lastAudio?.ms ?? 0) : 0,
      doneAt: undefined,
    };
    deps.logger.info('agent asked to end the call', { kind: request.kind, line_in_same_response: sameResponse });
    this.check();
    return { respond: !sameResponse };
  }

  onResponseCreated(responseId: string): void {
    if (this.line && this.line.responseId === undefined) this.line.responseId = responseId;
  }

  /** Model audio went to the caller with `mark` after it. */
  onAudioSent(responseId: string, mark: string, ms: number): void {
    const before = this.lastAudio?.responseId === responseId ? this.lastAudio.ms : 0;
    this.lastAudio = { responseId, mark, ms: before + ms, echoed: false };
    const line = this.line;
    if (line?.responseId === responseId) {
      line.lastMark = mark;
      line.echoed = false;
      line.audioMs = this.lastAudio.ms;
    }
  }

  onResponseDone(responseId: string, status: string | undefined): void {
    this.lastDoneResponseId = responseId;
    const line = this.line;
    if (!line || line.responseId !== responseId) return;
    // Cancelled before a word played: VAD heard the caller (the barge-in path decides when audio did play).
    if (status === 'cancelled' && line.lastMark === undefined) return this.interrupted();
    line.done = true;
    line.doneAt = Date.now();
    this.check();
  }

  onMarkEchoed(name: string): void {
    if (this.lastAudio?.mark === name) this.lastAudio.echoed = true;
    const line = this.line;
    if (!line || line.lastMark !== name) return;
    line.echoed = true;
    this.check();
  }

  /** A barge-in cut the agent short (Twilio's buffer was cleared). */
  onBargeIn(): void {
    if (this.line) this.interrupted();
  }

  /**
   * The model session dropped and a new one resumes the call: a line it had not finished is lost with it.
   * A transfer goes ahead (the decision stands); end_call is cancelled (the new session does not know of it).
   */
  onSessionReplaced(): void {
    const line = this.line;
    if (!line || line.done) return;
    if (line.action.kind === 'transfer') return void this.act();
    this.line = undefined;
    void this.record('agent.hangup', 'cancelled', { reason: 'model_reconnected', line_ms: Math.round(line.audioMs) });
  }

  /**
   * The call came back through another gateway (the first one died): marks sent on the old stream will
   * never come back, so a finished line waiting for its mark is carried out now rather than never.
   */
  onStreamReplaced(): void {
    const line = this.line;
    if (line?.done && line.lastMark !== undefined && !line.echoed) void this.act();
  }

  private interrupted(): void {
    const line = this.line!;
    if (line.action.kind === 'transfer') return void this.act();
    this.line = undefined;
    void this.record('agent.hangup', 'cancelled', { reason: 'caller_spoke', line_ms: Math.round(line.audioMs) });
  }

  /** The line is done and, if it had audio, its last mark came back: the caller heard all of it. */
  private check(): void {
    const line = this.line;
    if (!line || !line.done || (line.lastMark !== undefined && !line.echoed)) return;
    void this.act();
  }

  private record(
    event: 'agent.hangup' | 'agent.transfer',
    outcome: AgentControlOutcome,
    fields: TimelineFields,
    level?: 'warn' | 'error',
  ): Promise<void> {
    return this.deps.tl.record(event, { outcome, ...fields }, level);
  }

  private async act(): Promise<void> {
    const line = this.line;
    if (!line || this.acted) return;
    this.acted = true;
    this.line = undefined;
    const heard = {
      line_ms: Math.round(line.audioMs),
      heard_wait_ms: line.doneAt === undefined ? undefined : Date.now() - line.doneAt,
      reason: line.reason,
    };
    if (line.action.kind === 'end_call') await this.hangUp(heard);
    else await this.transfer(line.action.to, heard);
  }

  private async hangUp(fields: Record<string, string | number | undefined>): Promise<void> {
    const { deps } = this;
    deps.stats.agentEnded = 'agent_hangup';
    if (deps.callControl) {
      try {
        const started = performance.now();
        await deps.callControl.hangup(deps.tl.callSid);
        await this.record('agent.hangup', 'hung_up', {
          via: 'rest',
          rest_ms: Math.round(performance.now() - started),
          ...fields,
        });
        return;
      } catch (err) {
        deps.logger.error('hangup through the Twilio API failed; closing the stream instead', errorFields(err));
      }
    }
    // Closing the stream makes Twilio post <Connect action>: the best left without the REST API. The
    // webhook reads this reason in the gateway's ended-on-purpose marker and answers a bare hangup.
    deps.channel.send({ t: 'hangup', reason: AGENT_END_CALL_REASON });
    await this.record('agent.hangup', 'hung_up', { via: 'stream_close', ...fields });
  }

  private async transfer(to: string, fields: Record<string, string | number | undefined>): Promise<void> {
    const { deps } = this;
    try {
      const started = performance.now();
      await deps.callControl!.redirect(deps.tl.callSid, dialTwiml(to));
      deps.stats.agentEnded = 'agent_transfer';
      await this.record('agent.transfer', 'redirected', {
        to,
        rest_ms: Math.round(performance.now() - started),
        ...fields,
      });
    } catch (err) {
      deps.logger.error('transfer through the Twilio API failed', errorFields(err));
      this.acted = false;
      await this.record(
        'agent.transfer',
        'failed',
        { to, error: err instanceof Error ? err.message : String(err) },
        'error',
      );
      // The call goes on: the model learns the transfer failed and tells the caller.
      deps.send({
        type: 'conversation.item.create',
        item: { type: 'message', role: 'system', content: [{ type: 'input_text', text: TRANSFER_FAILED_NOTE }] },
      });
      deps.send({ type: 'response.create' });
    }
  }
}

function reasonOf(argsJson: string): string | undefined {
  try {
    const args = JSON.parse(argsJson) as { reason?: unknown };
    return typeof args.reason === 'string' ? args.reason.slice(0, 200) : undefined;
  } catch {
    return undefined;
  }
}
