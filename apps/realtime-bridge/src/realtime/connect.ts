/**
 * Opens an OpenAI Realtime (GA) session with the official SDK: each attempt has
 * a timeout, retryable failures back off and try again, fatal ones (bad key,
 * quota, unknown model) stop at once. An attempt counts as connected only when
 * the server's first event, `session.created`, has arrived. Aborting `signal`
 * stops the attempt in flight and any retry; an abort whose reason is an
 * OpenAIConnectError (the caller-facing deadline: call/connect-deadline.ts) is
 * what the connect fails with, counting the attempts made.
 */
import { createSecureContext, type SecureContext } from 'node:tls';
import OpenAI from 'openai';
import type { ClientOptions } from 'ws';
import { OpenAIRealtimeWS } from 'openai/realtime/ws';
import type { RealtimeServerEvent } from 'openai/resources/realtime/realtime';
import type { OpenAIConfig } from '../config.js';
import { OpenAIConnectError, classifyConnectFailure } from './errors.js';

export interface RealtimeConnection {
  rt: OpenAIRealtimeWS;
  sessionId: string;
  attempt: number;
  /** Time of the successful attempt alone. */
  attemptMs: number;
  /** Time from the first attempt to session.created, retries included. */
  totalMs: number;
}

export interface ConnectHooks {
  onAttempt(attempt: number): void;
  onAttemptFailed(attempt: number, error: OpenAIConnectError, willRetry: boolean): void;
}

export function createOpenAIClient(config: OpenAIConfig): OpenAI {
  // The REST client is only used to derive the Realtime URL and credentials.
  return new OpenAI({ apiKey: config.apiKey, baseURL: config.baseURL, maxRetries: 0 });
}

export async function connectRealtime(
  client: OpenAI,
  config: OpenAIConfig,
  hooks: ConnectHooks,
  signal: AbortSignal,
): Promise<RealtimeConnection> {
  const started = performance.now();
  let lastError: OpenAIConnectError | undefined;
  for (let attempt = 1; attempt <= config.connectAttempts; attempt++) {
    if (signal.aborted) {
      lastError = abortError(signal, attempt - 1) ?? lastError;
      break;
    }
    hooks.onAttempt(attempt);
    const attemptStart = performance.now();
    try {
      const { rt, sessionId } = await connectOnce(client, config, signal);
      const now = performance.now();
      return { rt, sessionId, attempt, attemptMs: now - attemptStart, totalMs: now - started };
    } catch (err) {
      const error = err instanceof OpenAIConnectError ? err : new OpenAIConnectError('OPENAI_ERROR', String(err));
      lastError = new OpenAIConnectError(error.reason, error.message.replace(/^\w+: /, ''), attempt);
      const willRetry = !error.fatal && attempt < config.connectAttempts && !signal.aborted;
      hooks.onAttemptFailed(attempt, lastError, willRetry);
      if (!willRetry) break;
      await sleep(config.retryBackoffMs * attempt, signal);
    }
  }
  // Aborted before the first attempt: none was made.
  throw lastError ?? new OpenAIConnectError('OPENAI_CLOSED', 'call ended while connecting', 0);
}

function connectOnce(
  client: OpenAI,
  config: OpenAIConfig,
  signal: AbortSignal,
): Promise<{ rt: OpenAIRealtimeWS; sessionId: string }> {
  return new Promise((resolve, reject) => {
    const rt = new OpenAIRealtimeWS({ model: config.model, options: tlsOptions(config.ca) }, client);
    let settled = false;
    const finish = (error?: OpenAIConnectError, sessionId?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      rt.off('event', onEvent);
      rt.socket.off('close', onClose);
      if (error) {
        rt.off('error', onError);
        rt.on('error', () => undefined); // late socket errors after terminate are expected
        rt.socket.terminate();
        reject(error);
      } else {
        rt.off('error', onError);
        resolve({ rt, sessionId: sessionId ?? '' });
      }
    };
    const onEvent = (event: RealtimeServerEvent) => {
      if (event.type === 'session.created') finish(undefined, (event.session as { id?: string }).id ?? '');
      if (event.type === 'error') {
        const code = event.error.code ?? undefined;
        finish(
          new OpenAIConnectError(
            classifyConnectFailure(event.error.message, code),
            `${code ?? ''} ${event.error.message}`.trim(),
          ),
        );
      }
    };
    const onError = (err: Error) => {
      const cause = (err as { cause?: Error & { code?: string } }).cause;
      const message = cause?.message ?? err.message;
      finish(new OpenAIConnectError(classifyConnectFailure(message, undefined, cause?.code), message));
    };
    const onClose = (code: number, reason: Buffer) =>
      finish(new OpenAIConnectError('OPENAI_CLOSED', `closed during handshake (${code} ${reason.toString()})`));
    const onAbort = () =>
      finish(abortError(signal) ?? new OpenAIConnectError('OPENAI_CLOSED', 'call ended while connecting'));
    const timer = setTimeout(
      () =>
        finish(
          new OpenAIConnectError('OPENAI_CONNECT_TIMEOUT', `no session.created within ${config.connectTimeoutMs} ms`),
        ),
      config.connectTimeoutMs,
    );
    rt.on('event', onEvent);
    rt.on('error', onError);
    rt.socket.on('close', onClose);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** The error an abort carries as its reason (the connect deadline), with the attempts made; else undefined. */
function abortError(signal: AbortSignal, attempts = 1): OpenAIConnectError | undefined {
  const reason: unknown = signal.reason;
  if (!(reason instanceof OpenAIConnectError)) return undefined;
  return new OpenAIConnectError(reason.reason, reason.message.replace(/^\w+: /, ''), attempts);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * One TLS context per CA set, made once: without `secureContext`, tls.connect builds a new context
 * for every model connection (with the default roots, or again from `ca`), about half a ms of CPU
 * per call. The default context (no OPENAI_CA_CERT_FILE) holds Node's roots plus
 * NODE_EXTRA_CA_CERTS, as tls.connect's own would. ws hands its options to tls.connect, which
 * takes `secureContext` (ws's own type does not list it).
 */
const DEFAULT_ROOTS = '';
const secureContexts = new Map<string, SecureContext>();
function tlsOptions(ca: string | undefined): ClientOptions {
  const key = ca ?? DEFAULT_ROOTS;
  let secureContext = secureContexts.get(key);
  if (!secureContext) {
    secureContext = ca ? createSecureContext({ ca }) : createSecureContext();
    secureContexts.set(key, secureContext);
  }
  return { secureContext } as ClientOptions;
}
