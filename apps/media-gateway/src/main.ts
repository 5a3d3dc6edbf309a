/** Composition root: config, logger, the gateway, one shutdown path. */
import { createLogger } from '@voice/logging';
import { installShutdown, runMain } from '@voice/runtime';
import { DEFAULTS, SERVICE_NAME, loadGatewayConfig } from './config.js';
import { createMediaGateway } from './gateway.js';

runMain(SERVICE_NAME, async () => {
  const config = loadGatewayConfig(process.env);
  const logger = createLogger({ service: SERVICE_NAME, instance: config.instanceId, level: config.logLevel });
  const gateway = createMediaGateway(config, { logger });
  await gateway.start();
  // The drain window must fit inside the shutdown deadline, with room for closing connections.
  installShutdown({ service: gateway, logger, deadlineMs: config.drainTimeoutMs + DEFAULTS.shutdownMarginMs });
});
