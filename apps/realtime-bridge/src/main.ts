/** Composition root of the realtime bridge: config, logger, service, shutdown. */
import { createLogger } from '@voice/logging';
import { installShutdown, runMain } from '@voice/runtime';
import { SHUTDOWN_FALLBACK_WAIT_MS, loadBridgeConfig } from './config.js';
import { SERVICE_NAME, createRealtimeBridge } from './bridge-service.js';

runMain(SERVICE_NAME, async () => {
  const config = loadBridgeConfig(process.env);
  const logger = createLogger({ service: SERVICE_NAME, instance: config.instanceId, level: config.logLevel });
  const bridge = createRealtimeBridge(config, logger);
  await bridge.start();
  // The drain, then the calls sent to the fallback at its end playing it out, then 5 s to stop the rest.
  installShutdown({ service: bridge, logger, deadlineMs: config.drainTimeoutMs + SHUTDOWN_FALLBACK_WAIT_MS + 5000 });
});
