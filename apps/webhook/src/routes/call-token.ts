/** The one-time token a media stream presents in its START (replay protection; see the gateway's start-check.ts). */
import { randomBytes } from 'node:crypto';

const CALL_TOKEN_BYTES = 18;

export function newCallToken(): string {
  return randomBytes(CALL_TOKEN_BYTES).toString('base64url');
}
