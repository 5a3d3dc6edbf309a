/**
 * `Authorization: Bearer <API_TOKEN>` for the business API. Both sides are
 * hashed to a fixed length first, so the comparison takes the same time
 * whatever the token's length or its first wrong character.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { Counter } from 'prom-client';

const BEARER = /^Bearer\s+(\S+)\s*$/i;

const digest = (value: string): Buffer => createHash('sha256').update(value).digest();

export function requireBearerToken(opts: { token: string; rejected: Counter<'reason'> }) {
  const expected = digest(opts.token);
  return (req: Request, res: Response, next: NextFunction) => {
    const presented = BEARER.exec(req.header('Authorization') ?? '')?.[1];
    if (presented === undefined || !timingSafeEqual(digest(presented), expected)) {
      opts.rejected.inc({ reason: presented === undefined ? 'missing_bearer' : 'bad_bearer' });
      res
        .status(401)
        .set('WWW-Authenticate', 'Bearer')
        .json({ error: 'missing or wrong bearer token (Authorization: Bearer <API_TOKEN>)' });
      return;
    }
    next();
  };
}
