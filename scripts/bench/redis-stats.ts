/**
 * What the calls cost Redis: commands (INFO commandstats deltas, minus the
 * probe's own), memory (INFO memory), server CPU (INFO cpu), per-key memory of
 * live calls (MEMORY USAGE), and what is left of each call once it ended.
 */
import type { Redis } from 'ioredis';
import { callKeys, namespacePattern, readTimeline, transientCallKeys } from '@voice/redis';

export interface RedisSnapshot {
  commands: Map<string, number>;
  usedMemory: number;
  cpuSeconds: number;
}

export interface CommandDelta {
  total: number;
  byCommand: Record<string, number>;
}

const KEY_KINDS = ['timeline', 'prompt', 'meta', 'token', 'owner'] as const;
export type KeyKind = (typeof KEY_KINDS)[number];

const KEY_OF: Record<KeyKind, (callSid: string) => string> = {
  timeline: callKeys.timeline,
  prompt: callKeys.prompt,
  meta: callKeys.meta,
  token: callKeys.token,
  owner: callKeys.owner,
};

function infoFields(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split('\r\n')) {
    const at = line.indexOf(':');
    if (at > 0 && !line.startsWith('#')) fields.set(line.slice(0, at), line.slice(at + 1));
  }
  return fields;
}

export class RedisProbe {
  /** Commands this probe sent, by commandstats name, so they can be taken out of the deltas. */
  private readonly own = new Map<string, number>();

  constructor(private readonly redis: Redis) {}

  async snapshot(): Promise<RedisSnapshot> {
    this.count('info', 3);
    const [stats, memory, cpu] = await Promise.all([
      this.redis.info('commandstats'),
      this.redis.info('memory'),
      this.redis.info('cpu'),
    ]);
    const commands = new Map<string, number>();
    for (const [name, value] of infoFields(stats)) {
      const calls = /calls=(\d+)/.exec(value)?.[1];
      if (name.startsWith('cmdstat_') && calls) commands.set(name.slice('cmdstat_'.length), Number(calls));
    }
    const cpuFields = infoFields(cpu);
    return {
      commands,
      usedMemory: Number(infoFields(memory).get('used_memory') ?? 0),
      cpuSeconds: Number(cpuFields.get('used_cpu_sys') ?? 0) + Number(cpuFields.get('used_cpu_user') ?? 0),
    };
  }

  async cpuSeconds(): Promise<number> {
    this.count('info');
    const fields = infoFields(await this.redis.info('cpu'));
    return Number(fields.get('used_cpu_sys') ?? 0) + Number(fields.get('used_cpu_user') ?? 0);
  }

  async usedMemory(): Promise<number> {
    this.count('info');
    return Number(infoFields(await this.redis.info('memory')).get('used_memory') ?? 0);
  }

  /** Commands between two snapshots, without the probe's own (taken since `ownBefore`). */
  commandsBetween(before: RedisSnapshot, after: RedisSnapshot, ownBefore: Map<string, number>): CommandDelta {
    const byCommand: Record<string, number> = {};
    let total = 0;
    for (const [name, calls] of after.commands) {
      const own = (this.own.get(name) ?? 0) - (ownBefore.get(name) ?? 0);
      const delta = calls - (before.commands.get(name) ?? 0) - own;
      if (delta <= 0) continue;
      byCommand[name] = delta;
      total += delta;
    }
    return { total, byCommand };
  }

  ownCounts(): Map<string, number> {
    return new Map(this.own);
  }

  /** Average MEMORY USAGE of each per-call key kind over `callSids` (keys that exist). */
  async keyMemory(callSids: readonly string[]): Promise<Partial<Record<KeyKind, number>>> {
    const out: Partial<Record<KeyKind, number>> = {};
    for (const kind of KEY_KINDS) {
      this.count('memory|usage', callSids.length);
      const sizes = await Promise.all(callSids.map((sid) => this.redis.memory('USAGE', KEY_OF[kind](sid))));
      const present = sizes.filter((s): s is number => typeof s === 'number');
      if (present.length > 0) out[kind] = present.reduce((a, b) => a + b, 0) / present.length;
    }
    return out;
  }

  /** Per-call keys that should be gone after the call ended (the timeline stays), by kind. */
  async leftovers(callSids: readonly string[]): Promise<{ total: number; byKey: Record<string, number> }> {
    const byKey: Record<string, number> = {};
    let total = 0;
    const pipeline = this.redis.pipeline();
    const names: string[] = [];
    for (const sid of callSids) {
      for (const key of transientCallKeys(sid)) {
        pipeline.exists(key);
        names.push(key.slice(key.lastIndexOf(':') + 1));
      }
    }
    this.count('exists', names.length);
    const results = (await pipeline.exec()) ?? [];
    results.forEach(([, exists], i) => {
      if (exists !== 1) return;
      const name = names[i]!;
      byKey[name] = (byKey[name] ?? 0) + 1;
      total++;
    });
    return { total, byKey };
  }

  /** The `call.metrics` fields of each call's timeline (undefined: not written yet). */
  async callMetrics(callSids: readonly string[]): Promise<Map<string, Record<string, string> | undefined>> {
    this.count('xrange', callSids.length);
    const timelines = await Promise.all(callSids.map((sid) => readTimeline(this.redis, sid)));
    return new Map(callSids.map((sid, i) => [sid, timelines[i]!.find((e) => e.event === 'call.metrics')?.fields]));
  }

  /** Removes what the bench calls left behind on purpose (timelines) or by mistake. */
  async deleteCallKeys(callSids: readonly string[]): Promise<void> {
    const keys = callSids.flatMap((sid) => [callKeys.timeline(sid), ...transientCallKeys(sid)]);
    for (let i = 0; i < keys.length; i += 500) await this.redis.unlink(...keys.slice(i, i + 500));
  }

  /** Removes a namespace's shared keys (queues, claims) once its services have stopped. */
  async deleteNamespace(namespace: string): Promise<number> {
    let cursor = '0';
    let removed = 0;
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', namespacePattern(namespace), 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) removed += await this.redis.unlink(...keys);
    } while (cursor !== '0');
    return removed;
  }

  private count(name: string, n = 1): void {
    this.own.set(name, (this.own.get(name) ?? 0) + n);
  }
}
