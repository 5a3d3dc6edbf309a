/**
 * Why a Realtime session could not be opened or was lost, and whether trying
 * again can help. This is the ONE place that decides fatal vs retryable.
 */
export type RealtimeFailureReason =
  | 'OPENAI_AUTH'
  | 'OPENAI_QUOTA'
  | 'OPENAI_MODEL'
  | 'OPENAI_CONNECT_TIMEOUT'
  /** The caller-facing OPENAI_CONNECT_DEADLINE_MS passed (retries included) before a session was ready. */
  | 'OPENAI_CONNECT_DEADLINE'
  | 'OPENAI_REFUSED'
  | 'OPENAI_UPSTREAM'
  | 'OPENAI_CLOSED'
  | 'OPENAI_ERROR';

const FATAL: ReadonlySet<RealtimeFailureReason> = new Set(['OPENAI_AUTH', 'OPENAI_QUOTA', 'OPENAI_MODEL']);

export class OpenAIConnectError extends Error {
  override name = 'OpenAIConnectError';
  constructor(
    readonly reason: RealtimeFailureReason,
    detail: string,
    readonly attempts = 1,
  ) {
    super(`${reason}: ${detail}${hint(reason)}`);
  }

  get fatal(): boolean {
    return FATAL.has(this.reason);
  }
}

function hint(reason: RealtimeFailureReason): string {
  switch (reason) {
    case 'OPENAI_AUTH':
      return ' (check OPENAI_API_KEY)';
    case 'OPENAI_QUOTA':
      return ' (the OpenAI account is out of quota)';
    case 'OPENAI_MODEL':
      return ' (check OPENAI_REALTIME_MODEL)';
    case 'OPENAI_REFUSED':
      return ' (check OPENAI_BASE_URL and the network)';
    default:
      return '';
  }
}

/** Socket-level codes meaning "nothing usable answered at that address". */
const UNREACHABLE =
  /ECONNREFUSED|ECONNRESET|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN|socket hang up|before secure TLS connection/i;

/** Maps what the ws handshake / SDK reported (message, server error code, socket error code) to a reason. */
export function classifyConnectFailure(
  message: string,
  serverCode?: string,
  socketCode?: string,
): RealtimeFailureReason {
  if (serverCode === 'invalid_api_key') return 'OPENAI_AUTH';
  if (serverCode === 'insufficient_quota') return 'OPENAI_QUOTA';
  if (serverCode === 'model_not_found') return 'OPENAI_MODEL';
  const status = /Unexpected server response: (\d{3})/.exec(message)?.[1];
  if (status === '401' || status === '403') return 'OPENAI_AUTH';
  if (status === '404') return 'OPENAI_MODEL';
  if (status === '429') return 'OPENAI_UPSTREAM';
  if (status?.startsWith('5')) return 'OPENAI_UPSTREAM';
  if (UNREACHABLE.test(socketCode ?? '') || UNREACHABLE.test(message)) return 'OPENAI_REFUSED';
  return 'OPENAI_ERROR';
}
