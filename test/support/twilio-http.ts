/** HTTP requests as Twilio makes them: form-encoded, signed over the PUBLIC URL. */
import twilio from 'twilio';
import { PUBLIC_BASE_URL, TEST_AUTH_TOKEN } from './env.js';

/**
 * POSTs `params` to a locally listening webhook. `signature` undefined: signed
 * correctly; null: no signature header; a string: that (forged) signature.
 */
export async function postAsTwilio(
  port: number,
  path: string,
  params: Record<string, string>,
  signature?: string | null,
): Promise<{ status: number; body: string }> {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  const sig =
    signature === undefined
      ? twilio.getExpectedTwilioSignature(TEST_AUTH_TOKEN, PUBLIC_BASE_URL + path, params)
      : signature;
  if (sig !== null) headers['x-twilio-signature'] = sig;
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method: 'POST',
    headers,
    body: new URLSearchParams(params).toString(),
  });
  return { status: res.status, body: await res.text() };
}
