/**
 * `npm run timeline -- <CallSid>`: prints one call's timeline the way an
 * on-call engineer wants to read it (ms since the first event, app, fields).
 * The raw form is `redis-cli XRANGE 'call:{CA…}:timeline' - +` (with `-c` on a cluster).
 * Reads REDIS_URL, or REDIS_CLUSTER_NODES when set.
 */
import { formatTimeline, readTimeline, type RedisClient } from '@voice/redis';
import { connectScriptRedis, describeRedisEndpoint, redisEndpointFromEnv } from './lib/redis-endpoint.js';

const callSid = process.argv[2];
if (!callSid || !/^CA[0-9a-f]{32}$/i.test(callSid)) {
  process.stderr.write('usage: npm run timeline -- <CallSid>   (CA followed by 32 hex digits)\n');
  process.exit(2);
}
let redis: RedisClient | undefined;
let where = 'Redis';
try {
  const endpoint = redisEndpointFromEnv(process.env);
  where = describeRedisEndpoint(endpoint);
  redis = await connectScriptRedis(endpoint, { failFast: true });
  const entries = await readTimeline(redis, callSid);
  process.stdout.write(`${formatTimeline(entries)}\n`);
  if (entries.length === 0) process.stdout.write(`(no timeline for ${callSid} in ${where}; timelines expire after 7 days)\n`);
} catch (err) {
  process.stderr.write(`cannot read the timeline from ${where}: ${(err as Error).message}\n`);
  process.exitCode = 1;
} finally {
  redis?.disconnect();
}
