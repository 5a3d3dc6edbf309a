/**
 * The services' configuration, from the code: each apps/<name>/src/config.ts
 * is imported and its load*Config called with a recording environment, so
 * the variable list is exactly what parseEnv reads, the required ones are the
 * ones it refuses to go without, and the defaults are what it returns.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { list, type Report } from './report.js';

export type Env = Record<string, string | undefined>;

/** The fields of a loaded config the checks compare with the deployment files. */
export interface LoadedConfig {
  port?: number;
  drainTimeoutMs?: number;
  link?: { port?: number };
}

export interface ServiceConfig {
  /** The app directory name: webhook, media-gateway, realtime-bridge. */
  name: string;
  file: string;
  load: (env: Env) => LoadedConfig;
  module: Record<string, unknown>;
  keys: Set<string>;
  required: Set<string>;
  /** An environment with every required variable set to a dummy value. */
  base: Env;
  defaults: LoadedConfig;
  /** WEBHOOK_PORT, GATEWAY_PORT, BRIDGE_PORT. */
  portKey: string | undefined;
}

const VARIABLE_NAME = /^[A-Z][A-Z0-9_]*$/;
/** field.secret() wants at least 16 characters. */
const DUMMY_SECRET_LENGTH = 64;

function dummy(name: string): string {
  if (/STREAM_URL$/.test(name)) return 'wss://example.invalid/ws/twilio-media';
  if (/_URL$/.test(name)) return 'https://example.invalid';
  if (/_SECRET$/.test(name)) return 'check-'.padEnd(DUMMY_SECRET_LENGTH, '0');
  return 'x';
}

function readKeys(load: ServiceConfig['load']): Set<string> {
  const seen = new Set<string>();
  const env = new Proxy({} as Env, {
    get: (_target, key) => {
      if (typeof key === 'string' && VARIABLE_NAME.test(key)) seen.add(key);
      return undefined;
    },
  });
  try {
    load(env);
  } catch {
    // Every key is read before validation fails.
  }
  return seen;
}

function requiredKeys(load: ServiceConfig['load']): { required: string[]; base: Env } {
  const base: Env = { INSTANCE_ID: 'check' };
  const required: string[] = [];
  for (;;) {
    try {
      load(base);
      return { required, base };
    } catch (err) {
      const name = (err as { variable?: unknown }).variable;
      if (typeof name !== 'string' || name in base) throw err;
      required.push(name);
      base[name] = dummy(name);
    }
  }
}

export async function loadServices(root: string, report: Report): Promise<ServiceConfig[]> {
  const services: ServiceConfig[] = [];
  const appDirs = readdirSync(join(root, 'apps'), { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
  for (const name of appDirs) {
    const path = join(root, 'apps', name, 'src', 'config.ts');
    if (!existsSync(path)) continue;
    const file = `apps/${name}/src/config.ts`;
    try {
      const module = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
      const loaders = Object.entries(module).filter(([k, v]) => /^load\w*Config$/.test(k) && typeof v === 'function');
      if (loaders.length !== 1) throw new Error(`expected one load*Config export, found ${loaders.length}`);
      const load = loaders[0]![1] as ServiceConfig['load'];
      const keys = readKeys(load);
      const { required, base } = requiredKeys(load);
      const svc: ServiceConfig = {
        name,
        file,
        load,
        module,
        keys,
        required: new Set(required),
        base,
        defaults: load(base),
        portKey: [...keys].find((k) => k.endsWith('_PORT')),
      };
      services.push(svc);
      report.ok(`${file}: ${keys.size} variables (read through parseEnv); required: ${list(svc.required) || 'none'}`);
    } catch (err) {
      report.fail(`${file}: not loadable (${(err as Error).message.split('\n')[0]})`);
    }
  }
  return services;
}
