/**
 * `npm run timeline -- <CallSid>`: prints one call's timeline the way an
 * on-call engineer wants to read it (ms since the first event, app, fields).
 * The raw form is `redis-cli XRANGE 'call:{CA…}:timeline' - +`.
 */
import { Redis } from 'ioredis';
import { formatTimeline, readTimeline } from '@voice/redis';
import { DEFAULT_REDIS_URL } from '@voice/config';

const callSid = process.argv[2];
if (!callSid || !/^CA[0-9a-f]{32}$/i.test(callSid)) {
  process.stderr.write('usage: npm run timeline -- <CallSid>   (CA followed by 32 hex digits)\n');
  process.exit(2);
}
const url = process.env.REDIS_URL || DEFAULT_REDIS_URL;
const redis = new Redis(url, { maxRetriesPerRequest: 1, retryStrategy: () => null, lazyConnect: true });
redis.on('error', () => undefined);
try {
  await redis.connect();
  const entries = await readTimeline(redis, callSid);
  process.stdout.write(`${formatTimeline(entries)}\n`);
  if (entries.length === 0) process.stdout.write(`(no timeline for ${callSid} in ${url}; timelines expire after 7 days)\n`);
} catch (err) {
  process.stderr.write(`cannot read the timeline from Redis at ${url}: ${(err as Error).message}\n`);
  process.exitCode = 1;
} finally {
  redis.disconnect();
}
