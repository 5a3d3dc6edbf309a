/**
 * Deciding who owns a call. SET NX on `call:{CA}:owner` with a lease: exactly
 * one bridge wins. When the call STARTs and the owner is another bridge whose
 * heartbeat has expired (it died holding a warm session), the owner key is
 * taken over with a compare-and-set, so the call falls back to a cold session
 * here instead of waiting out the lease in silence.
 */
import type { Redis } from 'ioredis';
import { callKeys } from '@voice/redis';

/** SET the owner to ARGV[2] only if it is still ARGV[1] (the dead owner). */
const TAKEOVER_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0`;

export type ClaimOutcome = { owned: true; takeoverFrom?: string } | { owned: false; owner: string | null };

export class CallClaimer {
  constructor(
    private readonly redis: Redis,
    private readonly instanceId: string,
    private readonly leaseMs: number,
    private readonly aliveKey: (instance: string) => string,
  ) {}

  async claim(callSid: string, allowTakeover: boolean): Promise<ClaimOutcome> {
    const key = callKeys.owner(callSid);
    if ((await this.redis.set(key, this.instanceId, 'PX', this.leaseMs, 'NX')) === 'OK') return { owned: true };
    const owner = await this.redis.get(key);
    if (!allowTakeover || owner === null || owner === this.instanceId) return { owned: false, owner };
    if ((await this.redis.exists(this.aliveKey(owner))) === 1) return { owned: false, owner };
    const taken = (await this.redis.eval(TAKEOVER_SCRIPT, 1, key, owner, this.instanceId, String(this.leaseMs))) === 1;
    return taken ? { owned: true, takeoverFrom: owner } : { owned: false, owner: await this.redis.get(key) };
  }
}
