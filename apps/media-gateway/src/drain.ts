/**
 * Shutdown's middle step: give live calls time to finish on their own, then
 * close what is left (1001, which ends each call and lets Twilio run the
 * fallback TwiML), and cut any socket whose close handshake does not complete.
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
  opts.logger.info('draining media sockets', { sockets: sessions.size, timeoutMs: opts.drainTimeoutMs });
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
