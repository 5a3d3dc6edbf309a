/**
 * A function call from the model: run the tool, give the model its output,
 * and ask for the spoken answer once the function-call response itself is
 * done (asking earlier is refused with conversation_already_has_active_response).
 */
import type { RealtimeServerEvent, RealtimeClientEvent } from 'openai/resources/realtime/realtime';
import type { Logger } from '@voice/logging';
import { errorFields } from '@voice/logging';
import type { Timeline } from '@voice/redis';
import type { BridgeMetrics } from '../metrics.js';
import type { ConversationRecord } from './conversation-record.js';
import type { CallControlRequest, ToolContext, ToolExecutor, ToolResult } from './tool-executor.js';

type FunctionCallDone = Extract<RealtimeServerEvent, { type: 'response.function_call_arguments.done' }>;

const TOOL_FAILURE_OUTPUT = JSON.stringify({
  error: 'the system could not complete this; apologise and offer to take a message',
});

export interface ToolTurnsDeps {
  callSid: string;
  tools: ToolExecutor;
  timeline: Timeline;
  metrics: BridgeMetrics;
  logger: Logger;
  /** Every call and its output go on the conversation record (a new session replays them). */
  conversation: ConversationRecord;
  /** Sends to the current model session, if the call is still live. */
  send(event: RealtimeClientEvent): boolean;
  context(): ToolContext;
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
    void deps
      .tools(event.name, event.arguments, deps.context())
      .catch((err: unknown): ToolResult => {
        deps.logger.error('tool failed', { name: event.name, ...errorFields(err) });
        return { ok: false, output: TOOL_FAILURE_OUTPUT };
      })
      .then((result) => {
        this.inFlight--;
        deps.metrics.toolCalls.inc({ name: event.name, ok: String(result.ok) });
        void deps.timeline.record(
          deps.callSid,
          'tool.called',
          { name: event.name, ok: result.ok },
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
      });
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
