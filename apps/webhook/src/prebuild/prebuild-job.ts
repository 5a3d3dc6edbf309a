/** The prebuild job: build a call's compact greeting prompt while the phone rings. */
import { z } from 'zod';

export const prebuildJobData = z.object({
  callSid: z.string(),
  businessId: z.string(),
  direction: z.enum(['inbound', 'outbound']),
  /** Epoch ms the webhook enqueued it (queue wait is measured from here). */
  enqueuedAt: z.number(),
});

export type PrebuildJobData = z.infer<typeof prebuildJobData>;

export const PREBUILD_JOB_NAME = 'prebuild-prompt';
