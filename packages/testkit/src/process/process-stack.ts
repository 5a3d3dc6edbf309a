/**
 * The whole system as separate processes on this machine: one webhook, N media
 * gateways, N realtime bridges, and (unless the caller brings its own) the
 * Realtime double. Used by `npm run demo`, `npm run bench` and the
 * multi-process tests. Children trust the double's certificate through the
 * standard NODE_EXTRA_CA_CERTS, exactly as an operator would.
 */
import { randomBytes } from 'node:crypto';
import { freePort } from './free-port.js';
import type { ServiceProcess } from './service-process.js';
import { startServiceProcess, type ServiceName, type ServiceRuntime } from './service-process.js';

export interface ProcessStackOptions {
  env: Record<string, string | undefined>;
  gateways?: number;
  bridges?: number;
  /** Use this Realtime double instead of starting one (e.g. an in-process double a test inspects). */
  realtime?: { baseURL: string; certPath: string; apiKey: string };
  /** Extra environment for bridge i (0-based), e.g. one bridge that takes no warm sessions. */
  bridgeEnv?: (index: number) => Record<string, string | undefined>;
  /** Flags for the double's CLI when the stack starts it. */
  doubleArgs?: string[];
  onLine?: (label: string, line: string) => void;
  /** How the webhook, gateways and bridges run (default `source`); the double always runs from source. */
  runtime?: ServiceRuntime;
}

export interface ProcessStack {
  webhookPort: number;
  gatewayPorts: number[];
  bridgePorts: number[];
  /** Each bridge's media link port (gateways dial these). */
  linkPorts: number[];
  realtimeBaseURL: string;
  processes: ServiceProcess[];
  byRole(role: ServiceName): ServiceProcess[];
  stop(): Promise<void>;
}

const DOUBLE_API_KEY = 'sk-local-realtime-double';

export async function startProcessStack(options: ProcessStackOptions): Promise<ProcessStack> {
  const started: ServiceProcess[] = [];
  const roles = new Map<ServiceProcess, ServiceName>();
  const launch = async (
    name: ServiceName,
    label: string,
    env: Record<string, string | undefined>,
    extra: Partial<Parameters<typeof startServiceProcess>[0]> = {},
  ) => {
    const proc = await startServiceProcess({
      name,
      label,
      env,
      onLine: (line) => options.onLine?.(label, line),
      runtime: name === 'realtime-double' ? 'source' : options.runtime,
      ...extra,
    });
    started.push(proc);
    roles.set(proc, name);
    return proc;
  };
  const stop = async () => {
    // Front to back: gateways and webhook stop taking calls, bridges drain, the double goes last.
    const order: ServiceName[] = ['webhook', 'media-gateway', 'realtime-bridge', 'realtime-double'];
    for (const role of order) await Promise.all(started.filter((p) => roles.get(p) === role).map((p) => p.stop()));
  };

  try {
    let realtime = options.realtime;
    if (!realtime) {
      const double = await launch(
        'realtime-double',
        'realtime-double',
        { ...options.env },
        {
          args: ['--port', '0', '--api-key', DOUBLE_API_KEY, ...(options.doubleArgs ?? [])],
          readyLine: /"event":"ready"/,
        },
      );
      const ready = JSON.parse(double.readyMessage!) as { baseURL: string; certPath: string };
      realtime = { baseURL: ready.baseURL, certPath: ready.certPath, apiKey: DOUBLE_API_KEY };
    }
    const env = {
      // Gateways and bridges of one stack share a media link secret (a fresh one unless given).
      MEDIA_LINK_SECRET: randomBytes(24).toString('hex'),
      ...options.env,
      OPENAI_BASE_URL: realtime.baseURL,
      OPENAI_API_KEY: realtime.apiKey,
      NODE_EXTRA_CA_CERTS: realtime.certPath,
    };
    const webhookPort = await freePort();
    const gatewayPorts = await Promise.all(Array.from({ length: options.gateways ?? 1 }, () => freePort()));
    const bridgePorts = await Promise.all(Array.from({ length: options.bridges ?? 1 }, () => freePort()));
    const linkPorts = await Promise.all(bridgePorts.map(() => freePort()));
    // Bridges first, as in a deployment: a gateway links to every bridge in the registry when it starts.
    await Promise.all(
      bridgePorts.map((port, i) =>
        launch(
          'realtime-bridge',
          `bridge-${i + 1}`,
          {
            ...env,
            BRIDGE_PORT: String(port),
            MEDIA_LINK_PORT: String(linkPorts[i]),
            MEDIA_LINK_HOST: '127.0.0.1',
            INSTANCE_ID: `bridge-${i + 1}`,
            ...options.bridgeEnv?.(i),
          },
          { readyPort: port },
        ),
      ),
    );
    await Promise.all([
      launch(
        'webhook',
        'webhook',
        { ...env, WEBHOOK_PORT: String(webhookPort), INSTANCE_ID: 'webhook-1' },
        { readyPort: webhookPort },
      ),
      ...gatewayPorts.map((port, i) =>
        launch(
          'media-gateway',
          `gateway-${i + 1}`,
          { ...env, GATEWAY_PORT: String(port), INSTANCE_ID: `gateway-${i + 1}` },
          { readyPort: port },
        ),
      ),
    ]);
    return {
      webhookPort,
      gatewayPorts,
      bridgePorts,
      linkPorts,
      realtimeBaseURL: realtime.baseURL,
      processes: started,
      byRole: (role) => started.filter((p) => roles.get(p) === role),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
