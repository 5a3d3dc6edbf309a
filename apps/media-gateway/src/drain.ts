/**
 * Shutdown's middle step. Live calls are handed over at once (each socket
 * closes with 1001 after the bridge is told the gateway is going away; Twilio
 * posts <Connect action> and the call reconnects through another gateway), so
 * a rolling deploy drops none. A call already hanging up gets up to the drain
 * timeout to finish its clip; then what is left is closed, and any socket
 * whose close handshake does not complete is cut.
 */
import type { Logger } from '@voice/logging';
import type { MediaSession } from './session/media-session.js';

export interface DrainOptions {
  drainTimeoutMs: number;
  closeGraceMs: number;
  logger: Logger;
}

export async function drainSessions(sessions: Set<MediaSession>, opts: DrainOptions): Promise<void> {
  if (sessions.size === 0) return;
  opts.logger.info('draining media sockets: handing live calls over', {
    sockets: sessions.size,
    timeoutMs: opts.drainTimeoutMs,
  });
  for (const session of sessions) if (session.phase !== 'closing') session.shutdown();
  if (await allClosedWithin(sessions, opts.drainTimeoutMs)) return;

  opts.logger.warn('drain timeout passed; closing remaining media sockets', { sockets: sessions.size });
  for (const session of sessions) session.shutdown();
  if (await allClosedWithin(sessions, opts.closeGraceMs)) return;

  for (const session of sessions) session.terminate();
  await Promise.all([...sessions].map((s) => s.closed));
}

async function allClosedWithin(sessions: Set<MediaSession>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  const closed = Promise.all([...sessions].map((s) => s.closed)).then(() => true as const);
  try {
    return await Promise.race([closed, timedOut]);
  } finally {
    clearTimeout(timer);
  }
}
