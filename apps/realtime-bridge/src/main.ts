/** Composition root of the realtime bridge: config, logger, service, shutdown. */
import { createLogger } from '@voice/logging';
import { installShutdown, runMain } from '@voice/runtime';
import { loadBridgeConfig } from './config.js';
import { SERVICE_NAME, createRealtimeBridge } from './bridge-service.js';

runMain(SERVICE_NAME, async () => {
  const config = loadBridgeConfig(process.env);
  const logger = createLogger({ service: SERVICE_NAME, instance: config.instanceId, level: config.logLevel });
  const bridge = createRealtimeBridge(config, logger);
  await bridge.start();
  installShutdown({ service: bridge, logger, deadlineMs: config.drainTimeoutMs + 5000 });
});
