/**
 * Outbound calls in a test stack (in-process or processes): the Twilio REST double that accepts
 * calls.create and plays the callees (reaching the stack's webhook and its first
 * gateway), the env that turns the business API on, and POST /calls as a client
 * sends it.
 */
import { TwilioRestDouble, type CalleeBehaviour, type CallCreateRequest, type ProcessStack } from '@voice/testkit';
import type { Stack } from './stack.js';
import { TEST_ACCOUNT_SID, TEST_AUTH_TOKEN } from './env.js';

export const TEST_API_TOKEN = 'test-api-token-0123456789abcdef';

export interface OutboundHarness {
  rest: TwilioRestDouble;
  /** The env for startStack: API_TOKEN, the account, the REST double's address. */
  env(): Record<string, string>;
  /** The stack whose webhook and first gateway the callees reach (set once it is started). */
  attach(stack: Stack | ProcessStack): void;
}

interface Ports {
  webhook: number;
  gateway: number;
}

function portsOf(stack: Stack | ProcessStack): Ports {
  return 'webhookPort' in stack
    ? { webhook: stack.webhookPort, gateway: stack.gatewayPorts[0]! }
    : { webhook: stack.webhook.port, gateway: stack.gateways[0]!.port };
}

export async function startOutboundHarness(options: {
  callee?: (request: CallCreateRequest) => CalleeBehaviour;
  ownedNumbers?: () => readonly string[] | undefined;
}): Promise<OutboundHarness> {
  let ports: Ports | undefined;
  const running = (): Ports => {
    if (!ports) throw new Error('the outbound harness has no stack attached');
    return ports;
  };
  const rest = new TwilioRestDouble({
    accountSid: TEST_ACCOUNT_SID,
    // Twilio signs its webhooks with the account's auth token, the one that authenticates REST calls.
    authToken: TEST_AUTH_TOKEN,
    outbound: {
      ...options,
      resolveUrl: (publicUrl) => {
        const url = new URL(publicUrl);
        return `http://127.0.0.1:${running().webhook}${url.pathname}${url.search}`;
      },
      resolveStreamUrl: (publicUrl) => `ws://127.0.0.1:${running().gateway}${new URL(publicUrl).pathname}`,
    },
  });
  await rest.start();
  return {
    rest,
    env: () => ({ API_TOKEN: TEST_API_TOKEN, TWILIO_ACCOUNT_SID: TEST_ACCOUNT_SID, TWILIO_API_BASE_URL: rest.baseURL }),
    attach: (s) => {
      ports = portsOf(s);
    },
  };
}

export async function postCalls(
  port: number,
  body: unknown,
  token: string | null = TEST_API_TOKEN,
  extraHeaders: Record<string, string> = {},
): Promise<{
  status: number;
  body: Record<string, unknown>;
  retryAfter: string | null;
  replayed: string | null;
}> {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...extraHeaders };
  if (token !== null) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`http://127.0.0.1:${port}/calls`, {
    method: 'POST',
    headers,
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return {
    status: res.status,
    body: (await res.json()) as Record<string, unknown>,
    retryAfter: res.headers.get('retry-after'),
    replayed: res.headers.get('idempotent-replayed'),
  };
}
