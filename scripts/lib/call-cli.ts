/**
 * `npm run call`: places an outbound call through the webhook's business API
 * (POST /calls), for a person at a shell. Parsing and the request live here
 * (tested in test/e2e/outbound-calls.test.ts); scripts/call.ts only runs them.
 */
import { parseArgs } from 'node:util';

export const CALL_CLI_USAGE = `usage: npm run call -- --to +E164 (--from +E164 | --business <id>) [--url <webhook origin>]
  --to        the number to call (E.164)
  --from      one of the business's numbers (it names the business)
  --business  the business id instead: it calls from its first number
  --url       where the webhook service listens [PUBLIC_BASE_URL, else http://127.0.0.1:$WEBHOOK_PORT (3000)]
  API_TOKEN (environment) is the bearer token of the business API.`;

const DEFAULT_WEBHOOK_PORT = 3000;

/** A mistake in how the command was run (exit 2, with the usage). */
export class CallUsageError extends Error {
  override name = 'CallUsageError';
}

/** The API or the network said no (exit 1). */
export class CallFailedError extends Error {
  override name = 'CallFailedError';
}

export interface CallCliRequest {
  url: string;
  token: string;
  body: { to: string; from?: string; businessId?: string };
}

export function parseCallArgs(argv: string[], env: Record<string, string | undefined>): CallCliRequest {
  let values: { to?: string; from?: string; business?: string; url?: string };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        to: { type: 'string' },
        from: { type: 'string' },
        business: { type: 'string' },
        url: { type: 'string' },
      },
      strict: true,
    }));
  } catch (err) {
    throw new CallUsageError((err as Error).message);
  }
  if (!values.to) throw new CallUsageError('--to is required');
  if (!values.from === !values.business) throw new CallUsageError('give exactly one of --from and --business');
  const token = env.API_TOKEN;
  if (!token)
    throw new CallUsageError(
      'API_TOKEN is not set: export the business API token the webhook service was started with',
    );
  const url = (
    values.url ??
    env.PUBLIC_BASE_URL ??
    `http://127.0.0.1:${env.WEBHOOK_PORT || DEFAULT_WEBHOOK_PORT}`
  ).replace(/\/+$/, '');
  return {
    url,
    token,
    body: { to: values.to, ...(values.from ? { from: values.from } : { businessId: values.business! }) },
  };
}

/** POSTs the call; resolves with the CallSid, or throws CallFailedError with what the API said. */
export async function placeCallFromCli(request: CallCliRequest): Promise<string> {
  let res: Response;
  try {
    res = await fetch(`${request.url}/calls`, {
      method: 'POST',
      headers: { authorization: `Bearer ${request.token}`, 'content-type': 'application/json' },
      body: JSON.stringify(request.body),
    });
  } catch (err) {
    const cause = (err as { cause?: Error }).cause?.message ?? (err as Error).message;
    throw new CallFailedError(
      `cannot reach the webhook service at ${request.url}: ${cause} (is it running? --url sets where)`,
    );
  }
  const text = await res.text();
  let body: { callSid?: string; error?: string } = {};
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    // Not the business API (a proxy's error page?): show what came back.
  }
  if (res.status === 201 && body.callSid) return body.callSid;
  throw new CallFailedError(`POST ${request.url}/calls answered ${res.status}: ${body.error ?? text.slice(0, 200)}`);
}
