/**
 * Every Redis name the system uses, in one place.
 *
 * Per-call keys carry the CallSid as a Redis Cluster hash tag (`{CA…}`) so all
 * of a call's keys live on one shard. Shared keys (queues, the claim stream)
 * carry a namespace so two deployments or test runs can share one Redis.
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
  /** Stream, gateway -> bridge: start, caller media, echoed marks, dtmf, stop (see call-streams.ts). */
  inbound: (callSid: string) => callKey(callSid, 'in'),
  /** Stream, bridge -> gateway: agent media, marks, clear, hangup (see call-streams.ts). */
  outbound: (callSid: string) => callKey(callSid, 'out'),
} as const;

/** Keys of one call that must be gone once the call has ended (the timeline stays). */
export function transientCallKeys(callSid: string): string[] {
  return [
    callKeys.prompt(callSid),
    callKeys.meta(callSid),
    callKeys.token(callSid),
    callKeys.owner(callSid),
    callKeys.inbound(callSid),
    callKeys.outbound(callSid),
  ];
}

export function sharedKeys(namespace: string) {
  return {
    /** Stream + consumer group: calls waiting for a bridge to claim them. */
    callClaims: `${namespace}:calls:claims`,
    /** Consumer group on callClaims shared by every bridge instance. */
    bridgeGroup: 'bridges',
    /** Stream: sockets that never became calls (ghosts), for on-call inspection. */
    ghosts: `${namespace}:ws:ghosts`,
    /** String with a short TTL, renewed by a live bridge: lets others tell a dead owner from a busy one. */
    bridgeAlive: (instance: string) => `${namespace}:bridge:${instance}:alive`,
    /** BullMQ prefix: queues live under `<namespace>:bull:<queue>`. */
    bullPrefix: `${namespace}:bull`,
  } as const;
}

export type SharedKeys = ReturnType<typeof sharedKeys>;

export const QUEUE_NAMES = {
  prebuild: 'prebuild',
  /** Delayed per-call jobs that notice a media stream that never started. */
  streamWatchdog: 'stream-watchdog',
} as const;
