/**
 * Who owns a call, in Redis: `call:{CA}:owner` holds the owning bridge's
 * instance id with a lease. Exactly one bridge wins the SET NX; a call is
 * taken over (compare-and-set) only from an owner that is dead (its registry
 * report is stale) or whose link the gateway says it lost. Releasing is
 * compare-and-delete, so a bridge that lost a call to another can never
 * delete the new owner's keys.
 */
import {
  CALL_META_TTL_SECONDS,
  callKeys,
  transientCallKeys,
  type BridgeRegistry,
  type RedisClient,
} from '@voice/redis';

/** SET the owner to ARGV[2] only if it is still ARGV[1]. */
const TAKEOVER_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0`;

/** Delete the listed keys only if KEYS[1] (the owner key) is ARGV[1] or gone. */
const RELEASE_SCRIPT = `
local owner = redis.call('GET', KEYS[1])
if owner and owner ~= ARGV[1] then return 0 end
return redis.call('DEL', unpack(KEYS))`;

export type ClaimOutcome = { owned: true; takeoverFrom?: string } | { owned: false; owner: string | null };

export class CallOwnership {
  constructor(
    private readonly redis: RedisClient,
    private readonly instanceId: string,
    private readonly leaseMs: number,
    private readonly bridges: BridgeRegistry,
  ) {}

  /**
   * Claims the call. With `takeover`, an owner that is dead, or is `previousOwner` (the
   * gateway lost its link to it), is replaced.
   */
  async claim(callSid: string, takeover: { allowed: boolean; previousOwner?: string }): Promise<ClaimOutcome> {
    const key = callKeys.owner(callSid);
    if ((await this.redis.set(key, this.instanceId, 'PX', this.leaseMs, 'NX')) === 'OK') return { owned: true };
    const owner = await this.redis.get(key);
    if (owner === this.instanceId) return { owned: true };
    if (!takeover.allowed || owner === null) return { owned: false, owner };
    if (owner !== takeover.previousOwner && (await this.bridges.get(owner)) !== undefined)
      return { owned: false, owner };
    const taken = (await this.redis.eval(TAKEOVER_SCRIPT, 1, key, owner, this.instanceId, String(this.leaseMs))) === 1;
    return taken ? { owned: true, takeoverFrom: owner } : { owned: false, owner: await this.redis.get(key) };
  }

  /** The call is not over yet: its meta is deleted when it ends (by a bridge, or by the gateway for a call none took). */
  async notOver(callSid: string): Promise<boolean> {
    return (await this.redis.exists(callKeys.meta(callSid))) === 1;
  }

  /**
   * Extends the lease: one PEXPIRE per call per renewal, the only per-call Redis traffic while a
   * call is live. A key that vanished (Redis restarted or flushed) is written again, so a live
   * call is never left without an owner. A call handed to another bridge is not noticed here
   * (its gateway link tells first, and the end of the call checks ownership before finalizing);
   * extending the new owner's lease in the meantime is harmless.
   */
  async renew(callSid: string): Promise<void> {
    const key = callKeys.owner(callSid);
    if ((await this.redis.pexpire(key, this.leaseMs)) === 0)
      await this.redis.set(key, this.instanceId, 'PX', this.leaseMs, 'NX');
  }

  /**
   * Keeps the call's meta (what <Connect action> needs to bring a stream back, and what says the
   * call is not over) for another CALL_META_TTL_SECONDS: the webhook writes it once, and a call may
   * outlast that TTL. A meta already deleted (the call is over) is not written again.
   */
  async keepMeta(callSid: string): Promise<void> {
    await this.redis.expire(callKeys.meta(callSid), CALL_META_TTL_SECONDS);
  }

  async owner(callSid: string): Promise<string | null> {
    return this.redis.get(callKeys.owner(callSid));
  }

  /** This bridge owns the call (or nobody does: the key is gone, e.g. Redis restarted). */
  async isOwner(callSid: string): Promise<boolean> {
    const owner = await this.owner(callSid);
    return owner === null || owner === this.instanceId;
  }

  /** Gives up the call: the owner key goes, if it is still ours. */
  async release(callSid: string): Promise<void> {
    await this.redis.eval(RELEASE_SCRIPT, 1, callKeys.owner(callSid), this.instanceId).catch(() => undefined);
  }

  /** Deletes the call's transient keys (prompt, meta, token, owner) if it is still ours. */
  async deleteCallKeys(callSid: string): Promise<void> {
    const keys = transientCallKeys(callSid);
    const ownerKey = callKeys.owner(callSid);
    const ordered = [ownerKey, ...keys.filter((k) => k !== ownerKey)];
    await this.redis.eval(RELEASE_SCRIPT, ordered.length, ...ordered, this.instanceId).catch(() => undefined);
  }
}
