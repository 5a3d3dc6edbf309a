/**
 * The catalog of timeline events. Names are stable: on-call runbooks and
 * dashboards match on them. Each entry says which app writes it and what it means.
 */
export const TIMELINE_EVENTS = {
  'webhook.received': 'webhook: Twilio voice webhook accepted (signature valid); fields: from, to, direction',
  'webhook.unknown_number': 'webhook: no business answers the called number; caller hears a message and is hung up',
  'prebuild.enqueued': 'webhook: prebuild job queued (job id = CallSid)',
  'prompt.prebuilt': 'webhook worker: compact greeting prompt written to call:{CA}:prompt; fields: chars, ms',
  'twilio.stream_status': 'webhook: Twilio <Stream statusCallback>; fields: stream_event, stream_sid, stream_error',
  'ws.accepted': 'gateway: media WebSocket upgraded; fields: subprotocol, remote',
  'stream.connected': 'gateway: Twilio "connected" message received',
  'stream.start_slow': 'gateway: no START after the warn threshold, still waiting; fields: waited_ms',
  'stream.started': 'gateway: START received; fields: stream_sid, since_accept_ms, since_webhook_ms',
  'stream.no_start': 'gateway: gave up waiting for START; the socket is closed; fields: reason, waited_ms',
  'stream.rejected': 'gateway: START refused (bad or reused call token, CallSid mismatch); fields: reason, stream_sid, start_call_sid, remote',
  'ws.ghost': 'gateway: socket with no START and no traffic (preflight); not a failed call; fields: reason',
  'stream.stopped': 'gateway: Twilio "stop" received or socket closed; fields: reason, rx, tx',
  'warm.ready': 'bridge: warm session configured before START and the greeting requested; fields: ms (since claim)',
  'warm.joined': 'bridge: START arrived for a warm session; fields: greeting_ready (audio already waiting), waited_ms',
  'warm.expired': 'bridge: the call never started (reason ttl: no START within the warm TTL; no_start: the gateway gave up); the model session was closed; fields: reason, ttl_ms',
  'call.orphaned': 'gateway: the live call\'s bridge died (owner gone or heartbeat expired); the call is offered again; fields: previous_owner',
  'bridge.claimed': 'bridge: this instance owns the call; fields: claim_ms',
  'openai.connecting': 'bridge: opening a Realtime session; fields: attempt',
  'openai.connected': 'bridge: Realtime session open; fields: attempt, ms',
  'openai.failed': 'bridge: Realtime connect failed; fields: reason, attempts, fatal',
  'openai.closed': 'bridge: Realtime session closed unexpectedly mid-call; fields: code, reason',
  'session.configured': 'bridge: session.updated received; fields: prompt_path (fast|slow), prompt_reason, tools, ms',
  'audio_bridge.started': 'bridge: audio flowing both ways',
  'greeting.requested': 'bridge: response.create sent for the greeting',
  'greeting.first_audio': 'gateway: first greeting audio sent to the caller; fields: first_greeting_audio_ms (from START), queued_ms (bridge read -> sent)',
  'caller.speech_started': 'bridge: model VAD heard the caller start speaking; fields: audio_start_ms',
  'caller.dtmf': 'gateway: the caller pressed a key; fields: digit',
  barge_in: 'bridge: caller spoke over the agent; Twilio buffer cleared, item truncated; fields: item_id, audio_end_ms, sent_ms, played_ms',
  'tool.called': 'bridge: the model called a tool; fields: name, ok',
  'clip.played': 'gateway: a pre-rendered clip was sent to the caller (hold or fallback); fields: clip, audio_ms',
  'stream.never_started': 'webhook worker: the webhook was answered but no media stream started in time; fields: waited_ms',
  'openai.reconnecting': 'bridge: the model dropped mid-call; trying to resume the conversation; fields: attempt, items',
  'openai.reconnected': 'bridge: the conversation resumed on a new session; fields: ms, items',
  'tools.built': 'bridge: tools given to the model; fields: count, names',
  'realtime.fallback': 'bridge: the model is unreachable; the caller is sent to the fallback; fields: reason',
  'input.invalid': 'gateway: malformed message on the media socket (first of its kind per call); fields: kind, detail',
  'call.ended': 'bridge (or gateway for calls no bridge owned): fields: end_reason, rx, tx, is_ghost, duration_ms',
  'call.silent_failure': 'bridge/gateway: a real call ended without the caller hearing audio; fields: reason',
  'call.metrics': 'bridge: openai_connect_ms, first_greeting_audio_ms and the breakdown (connect, wait_prompt, configure, total)',
} as const;

export type TimelineEventName = keyof typeof TIMELINE_EVENTS;

export const TIMELINE_EVENT_NAMES = Object.keys(TIMELINE_EVENTS) as TimelineEventName[];
