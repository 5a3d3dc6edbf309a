/**
 * The catalog of timeline events. Names are stable: on-call runbooks and
 * dashboards match on them. Each entry says which app writes it and what it means.
 */
export const TIMELINE_EVENTS = {
  'webhook.received': 'webhook: Twilio voice webhook accepted (signature valid); fields: from, to, direction',
  'webhook.fallback':
    'webhook: answered with the spoken fallback and a hangup instead of the stream; fields: reason (redis_down: Redis not connected; timeout: Redis, BullMQ or Postgres slower than VOICE_ANSWER_TIMEOUT_MS; error), ms',
  'timeline.lost':
    "any app: Redis was unreachable and this many of the call's entries overflowed the buffer kept meanwhile (TIMELINE_DEFAULTS.outageBufferMax); fields: lost, instance",
  'webhook.unknown_number': 'webhook: no business answers the called number; caller hears a message and is hung up',
  'prebuild.enqueued':
    "webhook: prebuild job queued (job id = CallSid); not written when the business's prompt was cached",
  'prompt.prebuilt':
    'webhook or its worker: compact greeting prompt written to call:{CA}:prompt; fields: chars, ms, source (cache | job), queue_wait_ms (job)',
  'twilio.stream_status': 'webhook: Twilio <Stream statusCallback>; fields: stream_event, stream_sid, stream_error',
  'ws.accepted': 'gateway: media WebSocket upgraded; fields: subprotocol, remote',
  'stream.connected': 'gateway: Twilio "connected" message received',
  'stream.start_slow': 'gateway: no START after the warn threshold, still waiting; fields: waited_ms',
  'stream.started': 'gateway: START received; fields: stream_sid, since_accept_ms, since_webhook_ms',
  'stream.no_start': 'gateway: gave up waiting for START; the socket is closed; fields: reason, waited_ms',
  'stream.rejected':
    'gateway: START refused (bad or reused call token, CallSid mismatch); fields: reason, stream_sid, start_call_sid, remote',
  'ws.ghost': 'gateway: socket with no START and no traffic (preflight); not a failed call; fields: reason',
  'stream.stopped': 'gateway: Twilio "stop" received or socket closed; fields: reason, rx, tx',
  'warm.ready': 'bridge: warm session configured before START and the greeting requested; fields: ms (since claim)',
  'warm.joined':
    'bridge: START arrived for a warm session and audio flows both ways; fields: greeting_ready (audio already waiting), waited_ms, buffered_frames',
  'warm.expired':
    'bridge: the call never started (reason ttl: no START within the warm TTL; no_start: the gateway gave up; call_over: an outbound call ended unanswered, e.g. busy or no-answer); the model session was closed; fields: reason, ttl_ms',
  'call.orphaned':
    "gateway: the media link to the call's bridge closed or stopped answering pings; the caller hears hold audio and the call is offered again; fields: previous_owner, link_reason",
  'bridge.claimed': 'bridge: this instance owns the call; fields: claim_ms, reason (prebuilt|started), takeover_from',
  'link.attached':
    "gateway: the call's audio now flows over the media link to its bridge; fields: bridge, attach_ms (from START), via (owner|claim|handover: a shutting-down bridge moved the call here)",
  'link.detached':
    'bridge: the gateway holding the call went away (link closed) before the call ended; fields: gateway, reason',
  'call.reattached':
    'bridge: the call came back through a gateway after its gateway went away (<Connect action> reconnect); the model session was kept, no second greeting; fields: from_gateway, to_gateway, gap_ms (link lost -> attached)',
  'stream.action':
    'webhook: Twilio posted the <Connect action> URL (the stream ended); fields: decision (reconnect|fallback|hangup), reason (alive, ended_on_purpose, call_over, no_owner, reconnects_exhausted, error, redis_down, timeout: Redis not connected or not answering in VOICE_ANSWER_TIMEOUT_MS; agent_hangup: the agent ended the call by closing the stream, a bare hangup), attempt',
  'bridge.released':
    'bridge: this instance let go of a call it no longer owns, could not serve, or whose gateway finished it; fields: reason (no_attach, not_owner_at_end, finished_by_gateway, handed_over: its gateway moved the call to another bridge while this one shut down, not_started_at_shutdown: a warm session let go at the drain deadline before its call started; the next bridge greets)',
  'openai.connecting': 'bridge: opening a Realtime session; fields: attempt',
  'openai.connected': 'bridge: Realtime session open; fields: attempt, ms',
  'openai.failed':
    'bridge: Realtime connect failed (or OPENAI_CONNECT_DEADLINE_MS passed: reason OPENAI_CONNECT_DEADLINE); fields: reason, attempts, fatal',
  'openai.closed': 'bridge: Realtime session closed unexpectedly mid-call; fields: code, reason',
  'session.configured':
    'bridge: session.updated received; fields: prompt_path (fast|slow), prompt_reason, tools (count), tool_names, ms',
  'audio_bridge.started':
    'bridge (cold path): the greeting was requested and audio flows both ways; fields: buffered_frames',
  'greeting.failed':
    'bridge: the model refused the greeting (an error in answer to its response.create) or ended it without a sound; fields: attempt, status (refused|failed|incomplete), code, retrying (true: asked once more; false: the call goes to the fallback, reason OPENAI_GREETING_FAILED)',
  'greeting.first_audio':
    'gateway: first greeting audio sent to the caller; fields: first_greeting_audio_ms (from START), queued_ms (bridge read -> sent)',
  'caller.speech_started': 'bridge: model VAD heard the caller start speaking; fields: audio_start_ms',
  'caller.dtmf': 'gateway: the caller pressed a key; fields: digit',
  barge_in:
    'bridge: caller spoke over the agent; Twilio buffer cleared, item truncated; fields: item_id, audio_end_ms, sent_ms, played_ms',
  'tool.called':
    'bridge: the model called a tool and was given its answer; fields: name, ok, ms, reason (when not ok: slot_taken, timeout, error, ...)',
  'call.record_failed':
    'bridge (or the gateway, for a call no bridge owned: no_start, NO_CAPACITY; or the webhook, for a call it answered with the spoken fallback): the calls row could not be written to Postgres at the end of the call, after every retry (the row stays in_progress, without transcript or cost); fields: attempts, error',
  'tool.late':
    'bridge: a tool answered after its deadline (TOOL_TIMEOUT_MS), when the model had already been told it was not done; fields: name, ok, ms, reason',
  'agent.hangup':
    "bridge: the agent ended the call (end_call) once its goodbye was heard (its last mark echoed); fields: outcome (hung_up|cancelled), via (rest|stream_close), line_ms, heard_wait_ms, rest_ms, reason (the model's, or caller_spoke|model_reconnected when cancelled)",
  'agent.transfer':
    'bridge: the agent transferred the call (transfer_call) once its line was heard; fields: outcome (redirected|refused|unavailable|failed), to, reason, line_ms, heard_wait_ms, rest_ms',
  'dtmf.received':
    'bridge: a keypad entry (keys pressed in a row, ended by a pause, # or the call; one key per event with DTMF_ENTRY_GAP_MS=0) reached the call; fields: digit (the keys), outcome (sent_to_model|ignored), reason (dtmf_disabled|not_live when ignored), ended_by (pause|pound|call_end), waited_ms (an entry that ended while no model session was live, sent once one was)',
  'clip.played': 'gateway: a pre-rendered clip was sent to the caller (hold, fallback or busy); fields: clip, audio_ms',
  'stream.never_started':
    'webhook worker: the webhook was answered but no media stream started in time; fields: waited_ms',
  'openai.reconnecting':
    'bridge: the model dropped mid-call; trying to resume the conversation; fields: attempt, items',
  'openai.reconnected': 'bridge: the conversation resumed on a new session; fields: ms, items',
  'call.resumed':
    'bridge: this instance took the call over mid-call from another bridge (its link died, or it handed the call over while shutting down) and resumed it from the conversation record, without a greeting; fields: from, to (instances), items (replayed), gap_ms (from the gateway losing the old bridge, or the hand-over request, to the new session going live), planned (1: a hand-over, 0: the old bridge died), reply (reasked: the caller was owed a reply, e.g. one cut by the death, and the model was asked again; none: the agent had answered; greeted: nothing had been said yet)',
  'session.recycled':
    "bridge: the model session was replaced by a new one with the conversation replayed (before the server's session limit, or after the server ended it for its maximum duration); fields: session (number of the new one), reason (age|max_duration), items (replayed), age_ms (of the old session), prepare_ms (open + configure + replay), gap_ms (caller audio held between the two sessions)",
  'realtime.fallback':
    'bridge: the model is unreachable; the caller is sent to the fallback; fields: reason. gateway: reason NO_CAPACITY when no bridge has room (busy clip, then the TwiML fallback)',
  'input.invalid': 'gateway: malformed message on the media socket (first of its kind per call); fields: kind, detail',
  'call.ended':
    'bridge (or gateway for calls no bridge owned; webhook for outbound calls that never had a stream: busy, no-answer, failed, canceled): fields: end_reason, rx, tx, is_ghost, duration_ms',
  'call.silent_failure':
    'bridge/gateway: a real call ended without the caller hearing audio; fields: reason (no_audio_sent, no_model_audio, response_without_audio)',
  'call.abandoned':
    'bridge: the caller hung up on the hold clip while the session was still being set up (end_reason caller_abandoned; not a silent failure); fields: stage (connecting|configuring), hangup, waited_ms, hold_clips',
  'outbound.placed':
    'webhook: POST /calls placed an outbound call (Twilio calls.create accepted it); the session is prebuilt while it rings; fields: from, to, business_id, twilio_ms',
  'twilio.call_status':
    "webhook: Twilio call status callback of an outbound call, or (source=sweep) the final status the webhook fetched from Twilio because the callback was lost. bridge (source=reattach_grace): the status it fetched when a lost stream did not come back within GATEWAY_REATTACH_GRACE_MS, with last_action (the webhook's last <Connect action> answer, or none) and the end_reason it chose (completed and no fallback given: caller_hangup_during_reconnect; else gateway_lost); fields: call_status (initiated, ringing, in-progress, completed, busy, no-answer, failed, canceled; unknown when Twilio did not answer), duration_s, source, last_action, end_reason",
  'call.answered_by':
    'webhook: Twilio asynchronous answering machine detection result; fields: answered_by (human, machine_end_beep, machine_end_silence, machine_end_other, machine_start, fax, unknown), detection_ms, action (converse, voicemail, hangup, wait)',
  'outbound.voicemail':
    'webhook: a machine answered and its greeting ended: the live call was redirected to the business voicemail message, then a hangup; fields: chars, rest_ms, attempts (Twilio failing on its side is asked again), or error',
  'outbound.hangup':
    'webhook: the outbound call was hung up through the REST API; fields: reason (fax, machine_no_message), rest_ms, attempts, or error',
  'call.metrics':
    'bridge: openai_connect_ms, first_greeting_audio_ms and the breakdown (connect, wait_prompt, configure, total; left out where another bridge made the greeting and this one resumed the call); greeting_path (warm, cold: of the greeting the caller heard, whichever bridge made it); sessions (model sessions used), the summed token usage (input_tokens, output_tokens, input_audio_tokens, input_text_tokens, input_cached_tokens, output_audio_tokens, output_text_tokens, responses) and cost_usd',
} as const;

export type TimelineEventName = keyof typeof TIMELINE_EVENTS;
