/**
 * Every Redis name the system uses, in one place.
 *
 * Per-call keys carry the CallSid as a Redis Cluster hash tag (`{CA…}`) so all
 * of a call's keys live on one shard. Shared keys (queues, the claim stream,
 * the bridge registry) carry the namespace as their hash tag (`{voice}:…`):
 * two deployments or test runs can share one Redis, and every shared key of a
 * deployment sits in one slot, so BullMQ's multi-key scripts work on a cluster.
 * Audio never goes through Redis (see @voice/media-link).
 */
const callKey = (callSid: string, suffix: string) => `call:{${callSid}}:${suffix}`;

export const callKeys = {
  /** Stream: the call's lifecycle checkpoints, one entry per event (see timeline-events.ts). */
  timeline: (callSid: string) => callKey(callSid, 'timeline'),
  /** String: the prebuilt compact greeting prompt (JSON of PrebuiltPrompt), with a TTL. */
  prompt: (callSid: string) => callKey(callSid, 'prompt'),
  /** Hash: what the webhook learned about the call (business, direction, numbers, received_at). */
  meta: (callSid: string) => callKey(callSid, 'meta'),
  /** String: the one-time token the stream must present in its START (replay protection). */
  token: (callSid: string) => callKey(callSid, 'token'),
  /** String: the instance id of the bridge that owns the call, with a lease TTL. */
  owner: (callSid: string) => callKey(callSid, 'owner'),
  /**
   * Stream: the call's conversation record, one entry per completed item (caller
   * turn, agent turn, tool call, tool result, session settings). What a resumed
   * session replays and what the transcript in Postgres is written from.
   * Entries and the writer/reader: conversation-record.ts. Not transient: it
   * stays after the call (with a TTL of its own) for on-call, like the timeline.
   */
  conversation: (callSid: string) => callKey(callSid, 'conversation'),
  /**
   * String: why the gateway ended the call's stream on purpose (a hangup, a fallback, the caller's
   * stop), written just before it closes the socket, with a short TTL. The webhook's <Connect action>
   * route reads it: a stream that ended on purpose is not reconnected.
   */
  endedOnPurpose: (callSid: string) => callKey(callSid, 'ended'),
  /** Counter: how many times <Connect action> has reconnected the call's stream (capped by the webhook). */
  reconnects: (callSid: string) => callKey(callSid, 'reconnects'),
  /**
   * String: what the webhook last answered Twilio's <Connect action> for the call (`reconnect`, or
   * `fallback:<reason>`), with a short TTL. A bridge whose reattach grace runs out reads it: a caller
   * who was given the spoken fallback did not simply hang up (lost-stream.ts in the bridge).
   */
  lastAction: (callSid: string) => callKey(callSid, 'action'),
} as const;

/** How long the ended-on-purpose marker outlives the stream: Twilio posts the action URL within a second or two. */
export const ENDED_ON_PURPOSE_TTL_SECONDS = 120;

/** The reason of the bridge's `hangup` record when the agent's end_call closes the stream (the REST hangup failed). */
export const AGENT_END_CALL_REASON = 'agent_end_call';
/**
 * The ended-on-purpose marker the gateway writes for it (`hangup:<reason>`): the caller heard the
 * goodbye, so the webhook's <Connect action> answer is a bare hangup, not the spoken fallback.
 */
export const AGENT_HUNG_UP_MARKER = `hangup:${AGENT_END_CALL_REASON}`;

/** Keys of one call that must be gone once the call has ended (the timeline and the conversation record stay, with TTLs). */
export function transientCallKeys(callSid: string): string[] {
  return [
    callKeys.prompt(callSid),
    callKeys.meta(callSid),
    callKeys.token(callSid),
    callKeys.owner(callSid),
    callKeys.reconnects(callSid),
    callKeys.lastAction(callSid),
    // Needed only between the gateway's close and the call's finalization (then the meta is gone too).
    callKeys.endedOnPurpose(callSid),
  ];
}

export function sharedKeys(namespace: string) {
  const tag = `{${namespace}}`;
  return {
    /** Stream + consumer group: calls waiting for a bridge to claim them (see call-claims.ts). */
    callClaims: `${tag}:calls:claims`,
    /** Consumer group on callClaims shared by every bridge instance. */
    bridgeGroup: 'bridges',
    /** Stream: sockets that never became calls (ghosts), for on-call inspection. */
    ghosts: `${tag}:ws:ghosts`,
    /**
     * Hash: the live bridges, field = instance id, value = JSON of BridgeRecord (media
     * link address, load, capacity, draining, when it last reported). See bridge-registry.ts.
     */
    bridges: `${tag}:bridges`,
    /**
     * String per business and direction: the compact prompt the prebuild job last built, with the
     * business version it was built from (the version, a newline, the prompt's JSON; apps/webhook/src/prebuild/prompt-cache.ts),
     * with a TTL. Calls to a business whose version matches reuse it instead of queuing a job.
     */
    promptCache: (businessId: string, direction: 'inbound' | 'outbound') =>
      `${tag}:prompt-cache:${businessId}:${direction}`,
    /** BullMQ prefix: queues live under `{<namespace>}:bull:<queue>`, all in the namespace's slot. */
    bullPrefix: `${tag}:bull`,
    /**
     * Sorted set: outbound calls placed (or being placed) that no bridge has taken yet, scored by
     * when; POST /calls counts them against the bridges' spare room. See outbound-room.ts.
     */
    outboundReserved: `${tag}:outbound:reserved`,
    /**
     * Sorted set: outbound calls whose final status callback came before POST /calls had named
     * their reservation by CallSid (scored by when, kept as long as a reservation lives); the late
     * naming then gives the place back instead of holding it. See outbound-room.ts.
     */
    outboundEnded: `${tag}:outbound:ended`,
  } as const;
}

/** SCAN pattern matching every shared key of a namespace (tests and the bench clean up with it). */
export function namespacePattern(namespace: string): string {
  return `{${namespace}}:*`;
}

export type SharedKeys = ReturnType<typeof sharedKeys>;

export const QUEUE_NAMES = {
  prebuild: 'prebuild',
} as const;
