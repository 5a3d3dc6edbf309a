/**
 * docker-compose.yml against the code: each app's service passes exactly the
 * variables the app reads, on its port, with a healthcheck and a stop grace
 * period longer than its drain; the media link stays inside the compose
 * network; migrate runs first; one DATABASE_URL that matches the postgres service.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ENV_FILE,
  EXTRAS,
  MS_PER_SECOND,
  shutdownAfterDrainS,
  defaultPort,
  drainMsOf,
  isMissing,
  secondsOf,
  serviceOfCommand,
  type CheckContext,
} from './context.js';
import { sorted } from './report.js';
import { loadYaml } from './yaml.js';

type ComposeEnv = Record<string, string | number | boolean | null> | string[];

export interface ComposeService {
  command?: string | string[];
  environment?: ComposeEnv;
  expose?: Array<string | number>;
  ports?: Array<string | number | { target: number | string }>;
  healthcheck?: { test?: string | string[] };
  stop_grace_period?: string;
  depends_on?: Record<string, { condition?: string }> | string[];
  deploy?: { replicas?: number };
  network_mode?: string;
  volumes?: unknown[];
}

export interface ComposeFile {
  services?: Record<string, ComposeService>;
}

export function readCompose(root: string): ComposeFile {
  return loadYaml<ComposeFile>(readFileSync(join(root, 'docker-compose.yml'), 'utf8'));
}

function envObject(environment: ComposeEnv | undefined): Record<string, string | undefined> {
  if (Array.isArray(environment)) {
    return Object.fromEntries(
      environment.map((s) => {
        const i = s.indexOf('=');
        return i < 0 ? [s, undefined] : [s.slice(0, i), s.slice(i + 1)];
      }),
    );
  }
  return Object.fromEntries(Object.entries(environment ?? {}).map(([k, v]) => [k, v === null ? undefined : String(v)]));
}

function dependency(c: ComposeService, name: string): { condition?: string } | undefined {
  return Array.isArray(c.depends_on) ? (c.depends_on.includes(name) ? {} : undefined) : c.depends_on?.[name];
}

const strings = (values: Array<string | number> | undefined) => (values ?? []).map(String);

function containerPortsOf(ports: ComposeService['ports']): number[] {
  return (ports ?? []).flatMap((p) => {
    if (p && typeof p === 'object') return [Number(p.target)];
    const [from, to] = String(p).split('/')[0]!.split(':').pop()!.split('-').map(Number);
    return to ? Array.from({ length: to - from! + 1 }, (_, i) => from! + i) : [from!];
  });
}

export function checkCompose(ctx: CheckContext, compose: ComposeFile): void {
  const { report, envNames } = ctx;
  const composeServices = compose.services ?? {};
  const composeApps = new Set<string>();
  for (const [cname, c] of Object.entries(composeServices)) {
    const svc = serviceOfCommand(ctx, c.command);
    if (!svc) continue;
    const where = `docker-compose.yml ${cname}`;
    const failuresBefore = report.failures;
    if (isMissing(svc)) {
      report.fail(`${where} runs apps/${svc.missing}, which has no src/config.ts`);
      continue;
    }
    composeApps.add(svc.name);
    if (cname !== svc.name)
      report.fail(`${where} runs ${svc.name}: name the compose service after the app (nginx upstreams use it)`);
    const env = envObject(c.environment);
    const keys = new Set(Object.keys(env));
    const notInExample = sorted(keys).filter((k) => !envNames.has(k));
    if (notInExample.length) report.fail(`${where} sets variables not in ${ENV_FILE}: ${notInExample.join(', ')}`);
    const notRead = sorted(keys).filter((k) => !svc.keys.has(k) && !(k in EXTRAS));
    if (notRead.length) report.fail(`${where} sets variables ${svc.name} does not read: ${notRead.join(', ')}`);
    const notPassed = sorted(svc.keys).filter((k) => k !== 'INSTANCE_ID' && !keys.has(k));
    if (notPassed.length) report.fail(`${where} does not pass ${notPassed.join(', ')} (so .env cannot set them)`);
    if (keys.has('INSTANCE_ID')) report.fail(`${where} sets INSTANCE_ID: replicas would share it`);
    for (const [k, v] of Object.entries(env)) {
      const refs = [...String(v ?? '').matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]);
      if (refs.some((r) => r !== k))
        report.fail(
          `${where} ${k} interpolates ${refs.join(', ')}: use \${${k}:-} so .env keeps one name per variable`,
        );
    }
    const port = String(svc.portKey ? (env[svc.portKey] ?? '') : '');
    if (port !== String(defaultPort(svc)))
      report.fail(`${where} ${svc.portKey}=${port}, the code's default is ${defaultPort(svc)}`);
    const health = ([] as string[]).concat(c.healthcheck?.test ?? []).join(' ');
    if (!health.includes(`127.0.0.1:${port}/healthz`))
      report.fail(`${where} healthcheck does not GET 127.0.0.1:${port}/healthz`);
    if (!strings(c.expose).includes(port)) report.fail(`${where} does not expose ${port}`);
    const drainS = drainMsOf(svc, env.DRAIN_TIMEOUT_MS) / MS_PER_SECOND;
    const grace = secondsOf(c.stop_grace_period);
    const afterDrainS = shutdownAfterDrainS(svc);
    if (!(grace > drainS + afterDrainS)) {
      report.fail(
        `${where} stop_grace_period ${c.stop_grace_period} must exceed DRAIN_TIMEOUT_MS (${drainS} s) + ${afterDrainS} s`,
      );
    }
    if (dependency(c, 'migrate')?.condition !== 'service_completed_successfully')
      report.fail(`${where} must wait for migrate (service_completed_successfully)`);
    if (report.failures === failuresBefore) {
      const replicas = c.deploy?.replicas ? `, ${c.deploy.replicas} replicas` : '';
      report.ok(
        `${where}: ${keys.size} variables, port ${port}, healthcheck /healthz, stop_grace_period ${c.stop_grace_period} > ${drainS + afterDrainS} s${replicas}`,
      );
    }
  }
  for (const s of ctx.services)
    if (!composeApps.has(s.name)) report.fail(`docker-compose.yml has no service running apps/${s.name}`);
  checkComposeMediaLink(ctx, composeServices);
  checkComposeDatabase(ctx, composeServices);
}

/**
 * The media link in compose: the listener's port stays inside the compose
 * network, each replica publishes its own address, both ends share one value
 * for every variable they both read.
 */
function checkComposeMediaLink(ctx: CheckContext, composeServices: Record<string, ComposeService>): void {
  const { report, linkListener, linkPort, linkEnds, linkShared } = ctx;
  const composeLinkEnds = new Map<string, Record<string, string | undefined>>();
  for (const [cname, c] of Object.entries(composeServices)) {
    const svc = serviceOfCommand(ctx, c.command);
    if (!svc || isMissing(svc)) continue;
    if (linkEnds.includes(svc)) composeLinkEnds.set(cname, envObject(c.environment));
    if (svc !== linkListener || !linkPort) continue;
    const where = `docker-compose.yml ${cname}`;
    const failuresBefore = report.failures;
    const env = envObject(c.environment);
    const value = String(env.MEDIA_LINK_PORT ?? '');
    if (value !== String(linkPort)) report.fail(`${where} MEDIA_LINK_PORT=${value}, the code's default is ${linkPort}`);
    if (!strings(c.expose).includes(String(linkPort)))
      report.fail(`${where} does not expose ${linkPort} (the media link the gateways dial)`);
    if (containerPortsOf(c.ports).includes(linkPort))
      report.fail(
        `${where} publishes the media link port ${linkPort} on the host: it must stay inside the compose network`,
      );
    if (c.network_mode === 'host')
      report.fail(`${where} uses network_mode: host, which puts the media link port ${linkPort} on the host`);
    const replicas = c.deploy?.replicas ?? 1;
    const host = String(env.MEDIA_LINK_HOST ?? '');
    if (replicas > 1 && host !== '') {
      report.fail(
        `${where} MEDIA_LINK_HOST=${host} with ${replicas} replicas: one name for every replica sends gateways to a random one; leave it "" (each container's hostname, which Docker's DNS resolves)`,
      );
    }
    if (report.failures === failuresBefore) {
      report.ok(
        `${where}: media link on ${linkPort}, exposed to the compose network only (not published), MEDIA_LINK_HOST ${host === '' ? "each container's own hostname" : host}`,
      );
    }
  }
  if (composeLinkEnds.size >= 2) {
    const [first, ...rest] = [...composeLinkEnds];
    const differ = linkShared.filter((k) =>
      rest.some(([, env]) => String(env[k] ?? '') !== String(first![1][k] ?? '')),
    );
    const names = [...composeLinkEnds.keys()].join(' and ');
    if (differ.length)
      report.fail(
        `docker-compose.yml: ${differ.join(', ')} differ between ${names}; both ends of the media link need one value`,
      );
    else
      report.ok(
        `docker-compose.yml: ${names} pass the same ${linkShared.filter((k) => /MEDIA_LINK|HEARTBEAT|CLAIM/.test(k)).join(', ')}`,
      );
  }
  for (const name of ['media-gateway', 'realtime-bridge']) {
    if (!((composeServices[name]?.deploy?.replicas ?? 1) >= 2))
      report.fail(`docker-compose.yml ${name} should run 2 replicas (deploy.replicas)`);
  }
}

function checkComposeDatabase(ctx: CheckContext, composeServices: Record<string, ComposeService>): void {
  const { report } = ctx;
  const m = composeServices.migrate;
  const cmd = ([] as string[]).concat(m?.command ?? []).join(' ');
  if (!m) report.fail('docker-compose.yml has no migrate service');
  else if (
    !/packages\/db\/dist\/cli\.js migrate/.test(cmd) ||
    dependency(m, 'postgres')?.condition !== 'service_healthy'
  ) {
    report.fail('docker-compose.yml migrate must run packages/db/dist/cli.js migrate after postgres is healthy');
  } else report.ok(`docker-compose.yml migrate: ${cmd.replace(/^sh -c /, '')}`);
  const pg = envObject(composeServices.postgres?.environment);
  const urls = new Set(
    Object.values(composeServices)
      .map((c) => envObject(c.environment).DATABASE_URL)
      .filter((u): u is string => Boolean(u)),
  );
  for (const u of urls) {
    const url = new URL(u);
    const expected = {
      user: pg.POSTGRES_USER || 'postgres',
      password: pg.POSTGRES_PASSWORD || '',
      db: pg.POSTGRES_DB || pg.POSTGRES_USER || 'postgres',
    };
    if (
      url.hostname !== 'postgres' ||
      url.username !== expected.user ||
      decodeURIComponent(url.password) !== expected.password ||
      url.pathname !== `/${expected.db}`
    ) {
      report.fail(
        `docker-compose.yml DATABASE_URL ${u} does not match the postgres service (${JSON.stringify(expected)})`,
      );
    }
  }
  if (urls.size === 1)
    report.ok('docker-compose.yml: one DATABASE_URL for every service, matching the postgres service');
  else report.fail(`docker-compose.yml uses ${urls.size} different DATABASE_URLs`);
  const lbVolumes = (composeServices.lb?.volumes ?? []).map(String);
  if (!lbVolumes.some((v) => v.startsWith('./infra/nginx/nginx.conf:')))
    report.fail('docker-compose.yml lb must mount ./infra/nginx/nginx.conf');
}
