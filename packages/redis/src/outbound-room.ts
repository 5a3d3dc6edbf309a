/**
 * Room for outbound calls. POST /calls must not dial someone only for them to
 * hear the busy message when they answer, so before it places a call the
 * webhook reserves a place in the bridges' spare room, in one script (two
 * requests at once cannot both take the last place):
 *
 *   spare room = sum over live, non-draining bridges of (capacity - load)
 *                - calls placed that no bridge has taken yet.
 *
 * A bridge that takes a call (its warm session while it rings, or at START)
 * removes the call's reservation in the same transaction as the report that
 * first counts the call in its load (BridgeRegistry.publish), so the call is
 * never counted twice or not at all. A call that ends unanswered loses its reservation
 * at its final status callback; if that callback comes before POST /calls has named the
 * reservation by CallSid (a number Twilio fails at once), it leaves the CallSid in
 * `outboundEnded` and the naming gives the place back instead. A reservation older than
 * `maxAgeMs` (longer than any ring) is dropped, so a lost callback cannot hold room forever.
 *
 * This is the polite first check, not the guarantee: a bridge still never
 * takes a call past BRIDGE_MAX_CALLS, and an inbound call can take the last
 * place between this check and the answer (then the callee hears busy).
 */
import { randomUUID } from 'node:crypto';
import type { RedisClient } from './connection.js';
import type { SharedKeys } from './keys.js';

export interface RoomCheck {
  admitted: boolean;
  /** Spare places the live bridges reported, and the reservations already counted against them. */
  spare: number;
  reserved: number;
}

/** A place held for a call being placed: named by CallSid once Twilio gives one, or given back. */
export interface Reservation {
  readonly check: RoomCheck;
  /** Twilio placed the call: the place is now held under its CallSid (the name bridges remove). */
  placed(callSid: string): Promise<void>;
  /** The call was not placed: the place is free again. */
  release(): Promise<void>;
}

/**
 * KEYS[1] the bridge registry hash, KEYS[2] the reservations; ARGV: now (epoch ms), the registry's
 * stale limit (ms), the longest a reservation lives (ms), the reservation's member.
 * Returns {admitted 0|1, spare room, reservations before this one}.
 */
const RESERVE_SCRIPT = `
local now = tonumber(ARGV[1])
local spare = 0
for _, json in ipairs(redis.call('HVALS', KEYS[1])) do
  local ok, b = pcall(cjson.decode, json)
  if ok and type(b) == 'table' and type(b.at) == 'number' and type(b.capacity) == 'number'
      and type(b.load) == 'number' and now - b.at <= tonumber(ARGV[2]) and b.draining ~= true then
    spare = spare + math.max(0, b.capacity - b.load)
  end
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - tonumber(ARGV[3]))
local reserved = redis.call('ZCARD', KEYS[2])
if reserved >= spare then return {0, spare, reserved} end
redis.call('ZADD', KEYS[2], now, ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return {1, spare, reserved}
`;

/**
 * Names a reservation by its CallSid, unless the call already ended (its CallSid is in the ended
 * set): then the place is given back. KEYS[1] the reservations, KEYS[2] the ended set; ARGV: now,
 * the reservation's member, the CallSid. Returns 1 when the place is now held under the CallSid.
 */
const PLACED_SCRIPT = `
redis.call('ZREM', KEYS[1], ARGV[2])
if redis.call('ZREM', KEYS[2], ARGV[3]) == 1 then return 0 end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[3])
return 1
`;

/**
 * A call ended unanswered: its place is freed; if it holds none yet (not named), its CallSid is
 * left in the ended set for the naming to find. KEYS[1] the reservations, KEYS[2] the ended set;
 * ARGV: now, the CallSid, the longest a reservation lives (ms).
 */
const TAKEN_SCRIPT = `
if redis.call('ZREM', KEYS[1], ARGV[2]) == 1 then return 1 end
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - tonumber(ARGV[3]))
redis.call('ZADD', KEYS[2], now, ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return 0
`;

export class OutboundRoom {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Pick<SharedKeys, 'bridges' | 'outboundReserved' | 'outboundEnded'>,
    private readonly timings: {
      /** A bridge report older than this is a dead bridge's (the registry's own limit). */
      registryStaleMs: number;
      /** The longest a call can ring, and more: an older reservation is dropped. */
      maxAgeMs: number;
    },
  ) {}

  /** Holds a place for a call about to be placed, or says (admitted false) that there is none. */
  async reserve(now = Date.now()): Promise<Reservation> {
    const member = `placing:${randomUUID()}`;
    const [admitted, spare, reserved] = (await this.redis.eval(
      RESERVE_SCRIPT,
      2,
      this.keys.bridges,
      this.keys.outboundReserved,
      String(now),
      String(this.timings.registryStaleMs),
      String(this.timings.maxAgeMs),
      member,
    )) as [number, number, number];
    const check = { admitted: admitted === 1, spare, reserved };
    const key = this.keys.outboundReserved;
    return {
      check,
      placed: async (callSid) => {
        if (!check.admitted) return;
        await this.redis.eval(PLACED_SCRIPT, 2, key, this.keys.outboundEnded, String(now), member, callSid);
      },
      release: async () => {
        if (check.admitted) await this.redis.zrem(key, member);
      },
    };
  }

  /** The call ended unanswered: it no longer needs its place. (A bridge that takes a call: BridgeRegistry.publish.) */
  async taken(callSid: string, now = Date.now()): Promise<void> {
    const { outboundReserved, outboundEnded } = this.keys;
    await this.redis.eval(
      TAKEN_SCRIPT,
      2,
      outboundReserved,
      outboundEnded,
      String(now),
      callSid,
      String(this.timings.maxAgeMs),
    );
  }

  /** How many calls hold a reservation now (on-call tools, tests). */
  async reservedCount(): Promise<number> {
    return this.redis.zcard(this.keys.outboundReserved);
  }
}
