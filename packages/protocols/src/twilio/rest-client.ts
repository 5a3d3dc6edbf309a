/**
 * The twilio SDK's REST client, for the webhook (outbound calls, AMD) and the
 * bridge (hang up, transfer). `TWILIO_API_BASE_URL` points it elsewhere (a
 * regional edge, or the local REST double in tests) by rewriting the request's
 * origin in a RequestClient, as the SDK documents for custom clients.
 *
 * A subpath of its own (`@voice/protocols/twilio-rest`): the SDK is heavy, and
 * the gateway, which imports this package's types, never needs it.
 */
import twilio from 'twilio';

type RequestOptions<T> = Parameters<typeof twilio.RequestClient.prototype.request<T>>[0];

export interface TwilioRestConfig {
  accountSid: string;
  authToken: string;
  apiBaseUrl: string;
  /** Per request; the SDK's own default (30 s) when unset. */
  timeoutMs?: number;
}

export type TwilioClient = ReturnType<typeof twilio>;

class OriginRequestClient extends twilio.RequestClient {
  constructor(
    private readonly origin: string | undefined,
    timeout: number | undefined,
  ) {
    super(timeout === undefined ? {} : { timeout });
  }

  override request<TData>(opts: RequestOptions<TData>) {
    if (!this.origin) return super.request<TData>(opts);
    const uri = new URL(opts.uri);
    const target = new URL(this.origin);
    uri.protocol = target.protocol;
    uri.host = target.host;
    return super.request<TData>({ ...opts, uri: uri.toString() });
  }
}

const TWILIO_API_ORIGIN = 'https://api.twilio.com';

export function createTwilioClient(config: TwilioRestConfig): TwilioClient {
  const origin = config.apiBaseUrl.replace(/\/+$/, '');
  return twilio(config.accountSid, config.authToken, {
    httpClient: new OriginRequestClient(origin === TWILIO_API_ORIGIN ? undefined : origin, config.timeoutMs),
  });
}

/** Twilio refused the request: its HTTP status, error code and own message (RestException). */
export function twilioRefusal(
  err: unknown,
): { status: number; code: number | undefined; message: string; moreInfo: string | undefined } | undefined {
  if (!(err instanceof twilio.RestException)) return undefined;
  return { status: err.status, code: err.code, message: err.message, moreInfo: err.moreInfo };
}
