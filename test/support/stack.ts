/**
 * The whole system inside one test process: webhook, N media gateways and N
 * realtime bridges (real services, real Redis and Postgres), the OpenAI
 * Realtime double over TLS, and the Twilio caller double that places calls the
 * way Twilio does. Gateways are reached round-robin, as behind a load balancer.
 */
import { createLogger } from '@voice/logging';
import type { TwilioCallerDouble } from '@voice/testkit';
import { RealtimeDouble, placeCall, type PlaceCallOptions, type RealtimeDoubleBehaviour } from '@voice/testkit';
import { loadWebhookConfig } from '../../apps/webhook/src/config.js';
import { createWebhookService, type WebhookService } from '../../apps/webhook/src/webhook-service.js';
import { loadGatewayConfig } from '../../apps/media-gateway/src/config.js';
import { createMediaGateway, type MediaGateway } from '../../apps/media-gateway/src/gateway.js';
import { loadBridgeConfig } from '../../apps/realtime-bridge/src/config.js';
import { createRealtimeBridge, type RealtimeBridge } from '../../apps/realtime-bridge/src/bridge-service.js';
import { assertionRedis, deleteNamespace } from './redis.js';
import {
  PUBLIC_BASE_URL,
  TEST_ACCOUNT_SID,
  TEST_AUTH_TOKEN,
  TEST_OPENAI_KEY,
  baseTestEnv,
  uniqueNamespace,
} from './env.js';

export interface StackOptions {
  gateways?: number;
  bridges?: number;
  env?: Record<string, string | undefined>;
  gatewayEnv?: Record<string, string>;
  bridgeEnv?: Record<string, string>;
  realtime?: Partial<RealtimeDoubleBehaviour>;
}

export interface Stack {
  namespace: string;
  realtime: RealtimeDouble;
  webhook: WebhookService;
  gateways: MediaGateway[];
  bridges: RealtimeBridge[];
  /** Places one call as Twilio would; options override the defaults. */
  call(to: string, options?: Partial<PlaceCallOptions>): TwilioCallerDouble;
  stop(): Promise<void>;
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const namespace = uniqueNamespace();
  const realtime = new RealtimeDouble({ apiKey: TEST_OPENAI_KEY, behaviour: options.realtime });
  await realtime.start();
  const env = baseTestEnv(namespace, {
    OPENAI_BASE_URL: realtime.baseURL,
    OPENAI_CA_CERT_FILE: realtime.certPath,
    ...options.env,
  });
  const level = (env.LOG_LEVEL ?? 'silent') as 'silent';

  const webhook = createWebhookService(
    loadWebhookConfig(env),
    createLogger({ service: 'webhook', instance: 'wh-1', level }),
  );
  const gateways = Array.from({ length: options.gateways ?? 1 }, (_, i) => {
    const config = loadGatewayConfig({ ...env, INSTANCE_ID: `gw-${i + 1}`, ...options.gatewayEnv });
    return createMediaGateway(config, {
      logger: createLogger({ service: 'media-gateway', instance: config.instanceId, level }),
    });
  });
  const bridges = Array.from({ length: options.bridges ?? 1 }, (_, i) => {
    const config = loadBridgeConfig({ ...env, INSTANCE_ID: `br-${i + 1}`, ...options.bridgeEnv });
    return createRealtimeBridge(
      config,
      createLogger({ service: 'realtime-bridge', instance: config.instanceId, level }),
    );
  });
  await webhook.start();
  // Bridges first, as in a deployment: a gateway links to every bridge in the registry when it starts.
  await Promise.all(bridges.map((b) => b.start()));
  await Promise.all(gateways.map((g) => g.start()));

  let next = 0;
  const calls: TwilioCallerDouble[] = [];
  return {
    namespace,
    realtime,
    webhook,
    gateways,
    bridges,
    call(to, overrides = {}) {
      const gateway = gateways[next++ % gateways.length]!;
      const call = placeCall({
        webhookUrl: `http://127.0.0.1:${webhook.port}/twilio/voice`,
        publicWebhookUrl: `${PUBLIC_BASE_URL}/twilio/voice`,
        authToken: TEST_AUTH_TOKEN,
        accountSid: TEST_ACCOUNT_SID,
        to,
        resolveStreamUrl: (publicUrl) => {
          const url = new URL(publicUrl);
          return `ws://127.0.0.1:${gateway.port}${url.pathname}`;
        },
        ...overrides,
      });
      calls.push(call);
      return call;
    },
    async stop() {
      await Promise.allSettled(calls.map((c) => c.hangup()));
      await Promise.allSettled(calls.map((c) => c.done));
      await Promise.all(bridges.map((b) => b.stop()));
      await Promise.all(gateways.map((g) => g.stop()));
      await webhook.stop();
      await realtime.stop();
      const redis = assertionRedis();
      await deleteNamespace(redis, namespace);
      await redis.quit();
    },
  };
}
