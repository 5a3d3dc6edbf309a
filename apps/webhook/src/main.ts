/** Composition root of the webhook service: config, logger, service, shutdown. */
import { createLogger } from '@voice/logging';
import { installShutdown, runMain } from '@voice/runtime';
import { loadWebhookConfig } from './config.js';
import { SERVICE_NAME, createWebhookService } from './webhook-service.js';

runMain(SERVICE_NAME, async () => {
  const config = loadWebhookConfig(process.env);
  const logger = createLogger({ service: SERVICE_NAME, instance: config.instanceId, level: config.logLevel });
  const service = createWebhookService(config, logger);
  await service.start();
  installShutdown({ service, logger, deadlineMs: config.drainTimeoutMs + 5000 });
});
