/**
 * Every timing and size the media link uses, in one place. Services pass
 * overrides from their config; nothing else hard-codes these.
 */
export const MEDIA_LINK_DEFAULTS = {
  /** A ping goes out this often on an idle or busy link alike. */
  pingIntervalMs: 250,
  /**
   * Nothing heard from the peer (data or pong) for this long: it is dead. About a second,
   * so the gateway can put a caller on hold and hand the call over long before a lease expires.
   */
  deadAfterMs: 1000,
  /**
   * Writes to the peer can be coalesced: after a write, records wait at most this long for the
   * next ones, so a busy link makes one syscall for many frames; an idle link writes at once.
   * 0 (the default): one write per event-loop turn, which already carries every frame read in
   * that turn. Measured on the 2-core bench at 50 calls (README, "Benchmark"): 1-2 ms cut the
   * link's writes several times but not the services' CPU beyond the run-to-run noise, and added
   * about 1 ms at p50; 5 ms cut the steady-state CPU 10-20% and added about 2.4 ms at p50.
   * Latency first: a host where waking a process is dear may trade a few ms for CPU here.
   */
  coalesceMs: 0,
  /** The dialer gives up on a TCP connect plus handshake after this long. */
  connectTimeoutMs: 1000,
  /** A connection that has not authenticated within this long is dropped (and counted). */
  authTimeoutMs: 2000,
  /**
   * Bytes queued toward a slow peer past which new audio is dropped (counted, logged) instead of
   * queued: ~4 s of audio for 30 calls. Control records (stop, hangup, clear, marks) still go.
   */
  maxQueuedAudioBytes: 1 << 20,
  /** Past this even control records would grow memory without bound: the peer is stalled, the link is cut. */
  maxQueuedBytes: 4 << 20,
  /** A line longer than this is not ours (an audio record is ~250 bytes). */
  maxLineBytes: 256 * 1024,
  /** Log the first dropped record, then every Nth, so a stalled peer does not flood the log. */
  dropLogEvery: 500,
} as const;

export type MediaLinkTimings = {
  pingIntervalMs: number;
  deadAfterMs: number;
  coalesceMs: number;
  maxQueuedAudioBytes: number;
  maxQueuedBytes: number;
  maxLineBytes: number;
};

/** Bumped when the record format changes incompatibly: a peer on another version is refused. */
export const MEDIA_LINK_PROTOCOL_VERSION = '1';
