/**
 * The three operational endpoints every service exposes: `/healthz` (the process
 * is alive), `/readyz` (send traffic here; false while starting or draining) and
 * `/metrics` (Prometheus text format).
 */
import type { Express, Request, Response } from 'express';
import type { Registry } from 'prom-client';

export interface Readiness {
  ready(): boolean;
}

export function mountOpsRoutes(app: Express, opts: { registry: Registry; readiness: Readiness }): void {
  app.get('/healthz', (_req: Request, res: Response) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', (_req: Request, res: Response) => {
    const ready = opts.readiness.ready();
    res.status(ready ? 200 : 503).json({ ready });
  });
  app.get('/metrics', async (_req: Request, res: Response) => {
    res.set('Content-Type', opts.registry.contentType);
    res.send(await opts.registry.metrics());
  });
}
