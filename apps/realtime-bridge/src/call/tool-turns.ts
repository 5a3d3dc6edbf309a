/**
 * A function call from the model: run the tool, give the model its output,
 * and ask for the spoken answer once the function-call response itself is
 * done (asking earlier is refused with conversation_already_has_active_response).
 *
 * The model is silent while a tool runs, so every run has a deadline
 * (TOOL_TIMEOUT_MS): the tool gets it (a booking's insert is cancelled by
 * Postgres at it), and if the tool has still not answered a little after it,
 * the model is told it was not done and the call goes on. What the tool says
 * later is only recorded (`tool.late`), never given to the model or acted on.
 * Meanwhile the caller hears the hold clip if the wait passes
 * HOLD_AUDIO_AFTER_MS (until the model speaks again); not for end_call,
 * whose goodbye is the last thing the caller should hear.
 */
import type { RealtimeServerEvent, RealtimeClientEvent } from 'openai/resources/realtime/realtime';
import type { Logger } from '@voice/logging';
import { errorFields } from '@voice/logging';
import type { Timeline } from '@voice/redis';
import type { BridgeMetrics } from '../metrics.js';
import type { ConversationRecord } from './conversation-record.js';
import {
  TOOLS_WITHOUT_HOLD,
  type CallControlRequest,
  type ToolContext,
  type ToolExecutor,
  type ToolResult,
} from './tool-executor.js';

type FunctionCallDone = Extract<RealtimeServerEvent, { type: 'response.function_call_arguments.done' }>;

const TOOL_FAILURE_OUTPUT = JSON.stringify({
  error: 'the system could not complete this; apologise and offer to take a message',
});
const TOOL_TIMEOUT_OUTPUT = JSON.stringify({
  error:
    'the system did not answer in time and this was not done; tell the caller, and offer to try again or take a message',
});
/**
 * After its deadline a tool gets this much longer to say so itself (a booking cancelled by
 * Postgres at the deadline answers "timeout" with what it knows) before the model is told for it.
 */
export const TOOL_DEADLINE_GRACE_MS = 500;

export interface ToolTurnsDeps {
  callSid: string;
  tools: ToolExecutor;
  timeline: Timeline;
  metrics: BridgeMetrics;
  logger: Logger;
  /** Every call and its output go on the conversation record (a new session replays them). */
  conversation: ConversationRecord;
  /** How long a tool may run (TOOL_TIMEOUT_MS): its deadline. */
  timeoutMs: number;
  /** A tool the caller waits through started: the hold clip plays if the silence lasts (stopped by model audio). */
  holdIfSlow(): void;
  /** Sends to the current model session, if the call is still live. */
  send(event: RealtimeClientEvent): boolean;
  context(): Omit<ToolContext, 'deadlineAt'>;
  hasActiveResponse(): boolean;
  /**
   * A call-control tool's decision, for the call to carry out (agent-control.ts). Says whether the model
   * must be asked for a response (its goodbye or transfer line) and may replace the output.
   */
  onControl(control: CallControlRequest, call: FunctionCallDone): { respond: boolean; output?: string };
}

export class ToolTurns {
  private inFlight = 0;
  private responseWanted = false;

  constructor(private readonly deps: ToolTurnsDeps) {}

  onFunctionCall(event: FunctionCallDone): void {
    const { deps } = this;
    this.inFlight++;
    deps.conversation.append({
      kind: 'tool_call',
      call_id: event.call_id,
      name: event.name,
      arguments: event.arguments,
    });
    const startedAt = Date.now();
    if (!TOOLS_WITHOUT_HOLD.has(event.name)) deps.holdIfSlow();
    let answered = false;
    const backstop = setTimeout(() => {
      answered = true;
      deps.metrics.toolTimeouts.inc({ name: event.name });
      deps.logger.warn('tool did not answer by its deadline: the model is told it was not done', {
        name: event.name,
        timeout_ms: deps.timeoutMs,
      });
      this.answer(event, { ok: false, output: TOOL_TIMEOUT_OUTPUT, reason: 'timeout' }, Date.now() - startedAt);
    }, deps.timeoutMs + TOOL_DEADLINE_GRACE_MS);
    backstop.unref();
    void deps
      .tools(event.name, event.arguments, { ...deps.context(), deadlineAt: startedAt + deps.timeoutMs })
      .catch((err: unknown): ToolResult => {
        deps.logger.error('tool failed', { name: event.name, ...errorFields(err) });
        return { ok: false, output: TOOL_FAILURE_OUTPUT, reason: 'error' };
      })
      .then((result) => {
        const ms = Date.now() - startedAt;
        if (answered) {
          this.recordLate(event, result, ms);
          return;
        }
        clearTimeout(backstop);
        answered = true;
        if (result.reason === 'timeout') deps.metrics.toolTimeouts.inc({ name: event.name });
        this.answer(event, result, ms);
      });
  }

  /** Gives the model the tool's output (once per call_id) and asks for its spoken answer when it may. */
  private answer(event: FunctionCallDone, result: ToolResult, ms: number): void {
    const { deps } = this;
    this.inFlight--;
    deps.metrics.toolCalls.inc({ name: event.name, ok: String(result.ok) });
    void deps.timeline.record(
      deps.callSid,
      'tool.called',
      { name: event.name, ok: result.ok, ms, reason: result.reason },
      { logger: deps.logger },
    );
    const control = result.control ? deps.onControl(result.control, event) : undefined;
    const output = control?.output ?? result.output;
    deps.conversation.append({
      kind: 'tool_result',
      call_id: event.call_id,
      name: event.name,
      output,
      ok: result.ok,
    });
    const sent = deps.send({
      type: 'conversation.item.create',
      item: { type: 'function_call_output', call_id: event.call_id, output },
    });
    if (!sent || control?.respond === false) return;
    if (deps.hasActiveResponse() || this.inFlight > 0) this.responseWanted = true;
    else this.requestResponse();
  }

  /**
   * A tool that answered after the model was told it was not done: on-call needs to know (a tool
   * without a deadline of its own may have done it after all); the call does not act on it.
   */
  private recordLate(event: FunctionCallDone, result: ToolResult, ms: number): void {
    const { deps } = this;
    deps.logger.warn('tool answered after its deadline; the model was told it was not done', {
      name: event.name,
      ok: result.ok,
      ms,
    });
    void deps.timeline.record(
      deps.callSid,
      'tool.late',
      { name: event.name, ok: result.ok, ms, reason: result.reason },
      { logger: deps.logger },
    );
  }

  /** No tool running and no answer waiting to be asked for: a session can be swapped. */
  get idle(): boolean {
    return this.inFlight === 0 && !this.responseWanted;
  }

  /** A response finished: if tool outputs are waiting for an answer, ask for it now. */
  onResponseDone(): void {
    if (this.responseWanted && this.inFlight === 0) this.requestResponse();
  }

  private requestResponse(): void {
    this.responseWanted = false;
    this.deps.send({ type: 'response.create' });
  }
}
