/**
 * Prebuilds a call's compact prompt while the phone rings (voice webhook and
 * POST /calls). When the business's prompt for this version of its row is in
 * the prompt cache, it goes straight to the call (`prompt.prebuilt
 * source=cache`); otherwise a BullMQ job builds it (`prebuild.enqueued`, then
 * the worker's `prompt.prebuilt source=job`) and fills the cache for the next
 * calls. Call it once the call's meta is written: a bridge taking the warm
 * claim checks that the call exists.
 */
import type { Logger } from '@voice/logging';
import type { Timeline } from '@voice/redis';
import type { WebhookMetrics } from '../metrics.js';
import type { PromptCache, BusinessVersion } from './prompt-cache.js';
import type { PromptPublisher } from './prompt-publisher.js';
import type { PrebuildQueue } from './prebuild-queue.js';

export interface PrebuildRequest {
  callSid: string;
  business: BusinessVersion;
  direction: 'inbound' | 'outbound';
  /** Epoch ms the call arrived (or was placed): the job's queue wait is measured from here. */
  receivedAt: number;
}

/** cached: the cached prompt went to the call; queued: a job will build it; duplicate: this call already had one. */
export type PrebuildOutcome = 'cached' | 'queued' | 'duplicate';

export interface PrebuilderDeps {
  cache: PromptCache;
  publisher: PromptPublisher;
  queue: PrebuildQueue;
  timeline: Timeline;
  metrics: Pick<WebhookMetrics, 'promptCache'>;
}

export class Prebuilder {
  constructor(private readonly deps: PrebuilderDeps) {}

  async prebuild(request: PrebuildRequest, log: Logger): Promise<PrebuildOutcome> {
    const { callSid, business, direction } = request;
    const started = performance.now();
    const cached = await this.deps.cache.get(business, direction);
    if (cached) {
      this.deps.metrics.promptCache.inc({ result: 'hit' });
      const fresh = await this.deps.publisher.publish(
        callSid,
        { ...cached, builtAt: Date.now() },
        { onlyIfAbsent: true },
      );
      await this.deps.timeline.record(
        callSid,
        'prompt.prebuilt',
        {
          chars: cached.instructions.length,
          tools: cached.toolNames.length,
          ms: Math.round(performance.now() - started),
          source: 'cache',
          duplicate: !fresh,
        },
        { logger: log },
      );
      return fresh ? 'cached' : 'duplicate';
    }
    this.deps.metrics.promptCache.inc({ result: 'miss' });
    const fresh = await this.deps.queue.enqueue({
      callSid,
      businessId: business.id,
      direction,
      enqueuedAt: request.receivedAt,
    });
    await this.deps.timeline.record(
      callSid,
      'prebuild.enqueued',
      { job_id: callSid, duplicate: !fresh },
      { logger: log },
    );
    return fresh ? 'queued' : 'duplicate';
  }
}
