/**
 * The real OpenAI SDK client (`OpenAIRealtimeWS`) pointed at a RealtimeDouble,
 * with what tests need around it: every server event in order, SDK errors,
 * open/close promises and a wait-for-event helper. Use it to exercise the
 * double itself; services under test build their own SDK clients.
 */
import OpenAI from 'openai';
import { OpenAIRealtimeWS } from 'openai/realtime/ws';
import { waitFor } from '../wait-for.js';
import { DEFAULT_WAIT_TIMEOUT_MS } from './constants.js';
import type { JsonObject } from './session-config.js';
import type { RealtimeDouble } from './server.js';

export interface RealtimeTestClientOptions {
  apiKey: string;
  model?: string;
  /** Extra upgrade headers (e.g. `OpenAI-Beta` to provoke the beta refusal). */
  headers?: Record<string, string>;
}

export interface ServerEvent extends JsonObject {
  type: string;
}

export interface RealtimeTestClient {
  rt: OpenAIRealtimeWS;
  /** Every server event, errors included, in arrival order. */
  events: ServerEvent[];
  /** What the SDK emitted on 'error' (server error events and socket failures). */
  errors: Error[];
  /** Resolves when the socket opens; rejects if it fails first. */
  opened: Promise<void>;
  closed: Promise<{ code: number; reason: string }>;
  /** Sends any JSON event, including ones the SDK's types would refuse. */
  send(event: JsonObject): void;
  /** The nth (1-based, counting ones already received) server event of `type`. */
  waitForEvent(type: string, options?: { nth?: number; timeoutMs?: number }): Promise<ServerEvent>;
  eventsOfType(type: string): ServerEvent[];
  /** Closes from the client side and waits for the socket to finish closing. */
  close(): Promise<void>;
}

export const DEFAULT_TEST_MODEL = 'gpt-realtime';

export function connectRealtimeTestClient(
  double: RealtimeDouble,
  options: RealtimeTestClientOptions,
): RealtimeTestClient {
  const openai = new OpenAI({ apiKey: options.apiKey, baseURL: double.baseURL });
  const rt = new OpenAIRealtimeWS(
    { model: options.model ?? DEFAULT_TEST_MODEL, options: { ca: double.caCert, headers: options.headers ?? {} } },
    openai,
  );
  const events: ServerEvent[] = [];
  const errors: Error[] = [];
  rt.on('event', (event) => events.push(event as unknown as ServerEvent));
  rt.on('error', (err) => errors.push(err));
  const opened = new Promise<void>((resolve, reject) => {
    rt.socket.once('open', () => resolve());
    rt.socket.once('error', reject);
  });
  // Callers that only care about `closed` must not see an unhandled rejection.
  opened.catch(() => undefined);
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    rt.socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  const eventsOfType = (type: string) => events.filter((e) => e.type === type);
  return {
    rt,
    events,
    errors,
    opened,
    closed,
    send: (event) => rt.socket.send(JSON.stringify(event)),
    eventsOfType,
    async waitForEvent(type, { nth = 1, timeoutMs = DEFAULT_WAIT_TIMEOUT_MS } = {}) {
      await waitFor(() => eventsOfType(type).length >= nth, { timeoutMs, message: `server event '${type}' #${nth}` });
      return eventsOfType(type)[nth - 1]!;
    },
    async close() {
      if (rt.socket.readyState !== rt.socket.CLOSED) rt.close();
      await closed;
    },
  };
}
