/**
 * The compact prompt is a function of the business row (and of the code that
 * builds it), not of the call. So the prebuild job, having built one, keeps it
 * here, tagged with the version of the row it came from; the next calls to that
 * business reuse it and queue no job. A business edited since (its updated_at,
 * kept by a trigger) or a prompt built by other code (PROMPT_BUILDER_VERSION)
 * is a miss, and the job builds it again. Entries expire with the prompt TTL.
 *
 * Why: a BullMQ job costs Redis about 60 commands (its Lua scripts, events
 * stream, lock and the worker's polls), more than all the rest of a 30-second
 * call; a hit costs one GET.
 */
import { PROMPT_BUILDER_VERSION, parsePrebuiltPrompt, type PrebuiltPrompt } from '@voice/agent';
import { sharedKeys, type RedisClient } from '@voice/redis';

/** What a prompt was built from: the row's updated_at and the builder's version. */
export interface BusinessVersion {
  id: string;
  updatedAt: Date;
}

function promptVersion(business: BusinessVersion): string {
  return `${business.updatedAt.getTime()}/${PROMPT_BUILDER_VERSION}`;
}

/**
 * An entry is the version, a newline, then the prompt's JSON: the version is checked without
 * parsing the prompt, and the prompt is read as the bridge reads `call:{CA}:prompt`.
 */
export class PromptCache {
  constructor(
    private readonly redis: RedisClient,
    private readonly namespace: string,
    private readonly ttlSeconds: number,
  ) {}

  /** The cached prompt for this version of the business, or undefined (none, another version, unreadable). */
  async get(business: BusinessVersion, direction: PrebuiltPrompt['direction']): Promise<PrebuiltPrompt | undefined> {
    const entry = await this.redis.get(sharedKeys(this.namespace).promptCache(business.id, direction));
    if (entry === null) return undefined;
    const newline = entry.indexOf('\n');
    if (newline < 0 || entry.slice(0, newline) !== promptVersion(business)) return undefined;
    return parsePrebuiltPrompt(entry.slice(newline + 1));
  }

  async set(business: BusinessVersion, prompt: PrebuiltPrompt): Promise<void> {
    await this.redis.set(
      sharedKeys(this.namespace).promptCache(business.id, prompt.direction),
      `${promptVersion(business)}\n${JSON.stringify(prompt)}`,
      'EX',
      this.ttlSeconds,
    );
  }
}
