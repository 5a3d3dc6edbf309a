/**
 * Express middleware that rejects requests not signed by Twilio. The URL the
 * signature covers is rebuilt from PUBLIC_BASE_URL (what Twilio called), never
 * from the Host header, which a proxy rewrites and an attacker controls.
 */
import type { NextFunction, Request, Response } from 'express';
import twilio from 'twilio';
import type { Counter } from 'prom-client';

export function requireTwilioSignature(opts: {
  authToken: string;
  publicBaseUrl: string;
  rejected: Counter<'reason'>;
}) {
  return (req: Request, res: Response, next: NextFunction) => {
    const signature = req.header('X-Twilio-Signature');
    if (!signature) {
      opts.rejected.inc({ reason: 'missing_signature' });
      res.status(400).type('text/plain').send('Missing X-Twilio-Signature header\n');
      return;
    }
    const url = opts.publicBaseUrl + req.originalUrl;
    const params = (req.body ?? {}) as Record<string, string>;
    if (!twilio.validateRequest(opts.authToken, signature, url, params)) {
      opts.rejected.inc({ reason: 'invalid_signature' });
      res.status(403).type('text/plain').send('Invalid X-Twilio-Signature\n');
      return;
    }
    next();
  };
}
