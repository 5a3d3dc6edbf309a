/**
 * Where a call's prompt comes from. Fast path: the prebuild worker already put
 * it in Redis while the phone rang. Slow path: it did not arrive within the
 * configured wait, so the bridge builds it from the database itself (logged and
 * recorded as such: a slow path in production means the prebuild queue is behind).
 */
import type { RedisClient } from '@voice/redis';
import type { BusinessRepository } from '@voice/db';
import { buildPrompt, parsePrebuiltPrompt, type PrebuiltPrompt } from '@voice/agent';
import { callKeys } from '@voice/redis';
import type { Logger } from '@voice/logging';
import type { CallStats } from './call-stats.js';

export type PromptPath = 'fast' | 'slow';

export interface ResolvedPrompt {
  prompt: PrebuiltPrompt;
  path: PromptPath;
  /** Why this path: prebuilt | prebuild_missing | prebuild_invalid. */
  reason: string;
}

export class PromptUnavailableError extends Error {
  override name = 'PromptUnavailableError';
}

export interface PromptSourceDeps {
  redis: RedisClient;
  businesses: BusinessRepository;
  waitMs: number;
  pollMs: number;
}

export async function resolvePrompt(
  deps: PromptSourceDeps,
  call: { callSid: string; businessId?: string; direction: 'inbound' | 'outbound' },
  signal: AbortSignal,
): Promise<ResolvedPrompt> {
  const deadline = performance.now() + deps.waitMs;
  let invalid = false;
  for (;;) {
    const raw = await deps.redis.get(callKeys.prompt(call.callSid));
    if (raw !== null) {
      const prompt = parsePrebuiltPrompt(raw);
      if (prompt) return { prompt, path: 'fast', reason: 'prebuilt' };
      invalid = true;
      break;
    }
    if (signal.aborted || performance.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, deps.pollMs));
  }
  if (!call.businessId)
    throw new PromptUnavailableError(`no prebuilt prompt and no business id for call ${call.callSid}`);
  const business = await deps.businesses.findById(call.businessId);
  if (!business) throw new PromptUnavailableError(`business ${call.businessId} not found`);
  return {
    prompt: buildPrompt(business, call.direction),
    path: 'slow',
    reason: invalid ? 'prebuild_invalid' : 'prebuild_missing',
  };
}

/** resolvePrompt plus the call's bookkeeping: timings and path in the stats, a warning on the slow path. */
export async function loadCallPrompt(
  deps: PromptSourceDeps,
  call: { callSid: string; businessId?: string; direction: 'inbound' | 'outbound' },
  stats: CallStats,
  logger: Logger,
  signal: AbortSignal,
): Promise<ResolvedPrompt> {
  stats.promptStartedAt = Date.now();
  const resolved = await resolvePrompt(deps, call, signal);
  stats.promptReadyAt = Date.now();
  stats.promptPath = resolved.path;
  stats.promptReason = resolved.reason;
  if (resolved.path === 'slow') logger.warn('prompt slow path', { reason: resolved.reason });
  return resolved;
}
