/**
 * Puts a built prompt where the bridge looks for it (`call:{CA}:prompt`) and,
 * with warm sessions on, offers the call to the bridges while the phone still
 * rings. Used by the prebuild job and by a prompt-cache hit alike.
 */
import type { PrebuiltPrompt } from '@voice/agent';
import { CLAIM_STREAM_MAXLEN, callKeys, encodeClaim, type RedisClient } from '@voice/redis';

export class PromptPublisher {
  constructor(
    private readonly redis: RedisClient,
    private readonly promptTtlSeconds: number,
    /** Where to offer the call for a warm session (undefined: warm sessions off). */
    private readonly warmClaimStream: string | undefined,
  ) {}

  /**
   * Writes the prompt, then offers the warm claim. With `onlyIfAbsent`, a call that already has a
   * prompt (a webhook Twilio retried) is left alone and false is returned: no second offer.
   */
  async publish(callSid: string, prompt: PrebuiltPrompt, { onlyIfAbsent = false } = {}): Promise<boolean> {
    const key = callKeys.prompt(callSid);
    const json = JSON.stringify(prompt);
    const written = onlyIfAbsent
      ? await this.redis.set(key, json, 'EX', this.promptTtlSeconds, 'NX')
      : await this.redis.set(key, json, 'EX', this.promptTtlSeconds);
    if (written === null) return false;
    if (this.warmClaimStream) {
      await this.redis.xadd(
        this.warmClaimStream,
        'MAXLEN',
        '~',
        CLAIM_STREAM_MAXLEN,
        '*',
        ...encodeClaim({ callSid, reason: 'prebuilt', at: Date.now() }),
      );
    }
    return true;
  }
}
