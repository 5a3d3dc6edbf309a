#!/usr/bin/env bash
# Checks the deployment files without a Docker engine or a cluster:
#   1. docker-compose.yml parses and validates (`docker compose config -q`);
#   2. infra/nginx/nginx.conf passes `nginx -t`;
#   3. .env.example lists exactly the variables apps/*/src/config.ts read (plus
#      documented extras), with the code's defaults, REQUIRED ones marked;
#   4. docker-compose.yml, nginx.conf and infra/k8s agree with the code: ports,
#      paths, variable names, drain timeouts vs grace periods, required
#      variables provided; the bridges' media link port stays internal (not
#      published by compose, on no k8s Service, only gateway pods admitted by a
#      NetworkPolicy), each bridge publishes its own address (compose: its
#      hostname; k8s: the pod IP), and gateways and bridges agree on the
#      variables both ends of the link read (MEDIA_LINK_SECRET first);
#   5. the Dockerfile's shape, and (as warnings, since those files belong to the
#      workspaces) whether `npm ci` accepts the lock file and every workspace
#      declares the @voice/* packages it imports (turbo builds in that order).
# Usage: bash infra/check.sh      Exit status: 0 when nothing FAILed.
# Installs nginx (Debian's nginx-light) and, when `docker compose` is missing,
# Debian's docker-compose, if run as root with apt-get available.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 2

FAILURES=0
WARNINGS=0
ok() { printf 'ok    %s\n' "$*"; }
fail() { printf 'FAIL  %s\n' "$*"; FAILURES=$((FAILURES + 1)); }
warn() { printf 'warn  %s\n' "$*"; WARNINGS=$((WARNINGS + 1)); }
skip() { printf 'skip  %s\n' "$*"; }
section() { printf '\n== %s\n' "$*"; }

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

can_apt_install() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; }

apt_install() { # package: install quietly, refreshing the package lists once if needed
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$1" >"$TMP/apt.log" 2>&1 && return 0
  apt-get update -qq >>"$TMP/apt.log" 2>&1 || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$1" >>"$TMP/apt.log" 2>&1
}

# ---------------------------------------------------------------------------
section "docker compose config"
# ---------------------------------------------------------------------------
COMPOSE=()
if ! command -v docker >/dev/null 2>&1; then
  skip "docker is not installed: docker-compose.yml not validated by compose (the structural checks below still run)"
else
  if docker compose version >/dev/null 2>&1; then
    COMPOSE=(docker compose)
  elif command -v docker-compose >/dev/null 2>&1; then
    COMPOSE=(docker-compose)
  elif can_apt_install; then
    echo "      the docker client has no compose plugin; installing Debian's docker-compose"
    if apt_install docker-compose; then COMPOSE=(docker-compose); else warn "could not install docker-compose (see apt output below)"; tail -5 "$TMP/apt.log"; fi
  fi
  if [ ${#COMPOSE[@]} -eq 0 ]; then
    skip "no 'docker compose' plugin and no docker-compose: docker-compose.yml not validated by compose"
  else
    version=$("${COMPOSE[@]}" version 2>/dev/null | head -n1)
    # Interpolation reads .env when present, like `docker compose up` does.
    if out=$("${COMPOSE[@]}" -f docker-compose.yml config -q 2>&1); then
      ok "${COMPOSE[*]} -f docker-compose.yml config -q ($version)"
    else
      fail "${COMPOSE[*]} -f docker-compose.yml config -q: $out"
    fi
    case "$version" in
      *" 1."*) echo "      note: compose v1 checks the schema and interpolation; it ignores deploy.replicas (v2 honours it)" ;;
    esac
  fi
fi

# ---------------------------------------------------------------------------
section "nginx -t"
# ---------------------------------------------------------------------------
NGINX=$(command -v nginx || true)
[ -z "$NGINX" ] && [ -x /usr/sbin/nginx ] && NGINX=/usr/sbin/nginx
if [ -z "$NGINX" ] && can_apt_install; then
  echo "      nginx is not installed; installing Debian's nginx-light"
  if apt_install nginx-light || apt_install nginx; then NGINX=$(command -v nginx || echo /usr/sbin/nginx); fi
fi
if [ -z "$NGINX" ] || [ ! -x "$NGINX" ]; then
  skip "nginx is not installed (and cannot be installed here): infra/nginx/nginx.conf not tested"
else
  # The upstreams name compose services (media-gateway, webhook) that only
  # Docker's DNS resolves, and nginx resolves upstream hosts while testing. So
  # test a copy with each upstream `server <host>:<port>` pointed at 127.0.0.1:
  # everything else is tested exactly as written.
  mkdir -p "$TMP/nginx"
  sed -E 's/^([[:space:]]*server[[:space:]]+)[A-Za-z][A-Za-z0-9._-]*(:[0-9]+)/\1127.0.0.1\2/' \
    infra/nginx/nginx.conf >"$TMP/nginx/nginx.conf"
  if out=$("$NGINX" -t -c "$TMP/nginx/nginx.conf" -p "$TMP/nginx/" -g "pid $TMP/nginx/nginx.pid;" 2>&1); then
    ok "nginx -t on infra/nginx/nginx.conf (upstream hosts replaced by 127.0.0.1; $("$NGINX" -v 2>&1 | sed 's/.*version: //'))"
  else
    fail "nginx -t on infra/nginx/nginx.conf:"
    printf '%s\n' "$out" | sed 's/^/      /'
  fi
fi

# ---------------------------------------------------------------------------
section "Dockerfile"
# ---------------------------------------------------------------------------
dockerfile_has() { # description, extended regex
  if grep -Eq "$2" Dockerfile; then ok "Dockerfile: $1"; else fail "Dockerfile: $1 (no line matches /$2/)"; fi
}
dockerfile_has "node 20 bookworm-slim base" '^ARG NODE_IMAGE=node:20-bookworm-slim'
dockerfile_has "build stage runs npm ci" '^RUN npm ci$'
dockerfile_has "build stage runs npm run build" '^RUN npm run build'
dockerfile_has "runtime dependencies via npm ci --omit=dev" '^RUN npm ci --omit=dev'
dockerfile_has "NODE_ENV=production in the runtime stage" '^ENV NODE_ENV=production'
dockerfile_has "non-root user" '^USER node'
dockerfile_has "default command is the webhook" '^CMD \["node", "apps/webhook/dist/main.js"\]'
for app in apps/*/; do
  app=${app%/}
  if [ -f "$app/src/main.ts" ]; then ok "$app/src/main.ts exists (image runs $app/dist/main.js)"; else fail "$app/src/main.ts missing"; fi
done
for assets in apps/*/assets packages/*/assets; do
  [ -d "$assets" ] || continue
  if grep -q 'for part in dist assets' Dockerfile; then ok "Dockerfile copies $assets into the image"; else fail "Dockerfile does not copy $assets (the code reads it at run time)"; fi
done
[ -f packages/db/src/cli.ts ] && ok "packages/db/src/cli.ts exists (migrate runs packages/db/dist/cli.js)" || fail "packages/db/src/cli.ts missing"
for pattern in '**/node_modules' '**/dist' '.env'; do
  if grep -qxF "$pattern" .dockerignore; then ok ".dockerignore excludes $pattern"; else fail ".dockerignore does not exclude $pattern"; fi
done

# npm ci refuses a lock file that is out of sync with the package.json files:
# try it (dry run) on a copy holding only the manifests, as the image's build
# stage does. The lock file belongs to the workspaces, hence a warning.
mkdir -p "$TMP/lock"
cp package.json "$TMP/lock/" 2>/dev/null
if [ ! -f package-lock.json ]; then
  warn "package-lock.json is missing: the image's npm ci cannot run"
elif ! command -v npm >/dev/null 2>&1; then
  skip "npm not installed: lock file not checked"
else
  cp package-lock.json "$TMP/lock/"
  for dir in apps/* packages/*; do
    [ -f "$dir/package.json" ] && mkdir -p "$TMP/lock/$dir" && cp "$dir/package.json" "$TMP/lock/$dir/"
  done
  if (cd "$TMP/lock" && npm ci --dry-run --ignore-scripts --no-audit --no-fund >"$TMP/lock.log" 2>&1); then
    ok "npm ci accepts package-lock.json (dry run on the manifests)"
  else
    warn "npm ci rejects package-lock.json, so the image's build stage will fail:"
    grep -E 'npm error (Missing|Invalid|`npm ci`)' "$TMP/lock.log" | head -5 | sed 's/^/      /'
  fi
fi

# ---------------------------------------------------------------------------
section "variables, ports and paths (config.ts vs .env.example, compose, nginx, k8s)"
# ---------------------------------------------------------------------------
# Node does the structured part. It loads each apps/*/src/config.ts through tsx
# (the repo's dev dependency) and calls its load*Config with a recording
# environment, so the variable list is exactly what parseEnv reads; without
# tsx it falls back to reading the shape keys from the source text.
cat >"$TMP/check.mjs" <<'NODE'
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const root = process.cwd();
const ENV_FILE = '.env.example';
// Read by something other than a config.ts, and documented in .env.example.
const EXTRAS = {
  NODE_EXTRA_CA_CERTS: 'read by Node itself at start',
};
let failures = 0;
let warnings = 0;
const ok = (m) => console.log(`ok    ${m}`);
const fail = (m) => { console.log(`FAIL  ${m}`); failures++; };
const warn = (m) => { console.log(`warn  ${m}`); warnings++; };
const sorted = (s) => [...s].sort();
const list = (s) => sorted(s).join(', ');

// --- the services' configuration, from the code -----------------------------
const dummy = (name) =>
  /STREAM_URL$/.test(name)
    ? 'wss://example.invalid/ws/twilio-media'
    : /_URL$/.test(name)
      ? 'https://example.invalid'
      : /_SECRET$/.test(name)
        ? 'check-'.padEnd(64, '0') // field.secret() wants at least 16 characters
        : 'x';

function readKeys(load) {
  const seen = new Set();
  const env = new Proxy({}, { get: (_t, k) => (typeof k === 'string' && /^[A-Z][A-Z0-9_]*$/.test(k) && seen.add(k), undefined) });
  try { load(env); } catch { /* every key is read before validation fails */ }
  return seen;
}

function requiredKeys(load) {
  const env = { INSTANCE_ID: 'check' };
  const required = [];
  for (;;) {
    try {
      load(env);
      return { required, base: env };
    } catch (err) {
      const name = err && err.variable;
      if (!name || name in env) throw err;
      required.push(name);
      env[name] = dummy(name);
    }
  }
}

const services = [];
const appDirs = readdirSync(join(root, 'apps'), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();
let viaTsx = true;
for (const name of appDirs) {
  const file = join(root, 'apps', name, 'src', 'config.ts');
  if (!existsSync(file)) continue;
  const svc = { name, file: `apps/${name}/src/config.ts` };
  try {
    const mod = await import(pathToFileURL(file).href);
    const loaders = Object.entries(mod).filter(([k, v]) => /^load\w*Config$/.test(k) && typeof v === 'function');
    if (loaders.length !== 1) throw new Error(`expected one load*Config export, found ${loaders.length}`);
    svc.load = loaders[0][1];
    svc.module = mod;
    svc.keys = readKeys(svc.load);
    const { required, base } = requiredKeys(svc.load);
    svc.required = new Set(required);
    svc.base = base;
    svc.defaults = svc.load(base);
  } catch (err) {
    viaTsx = false;
    warn(`${svc.file}: not loadable (${err.message.split('\n')[0]}); reading shape keys from the source text instead`);
    const text = readFileSync(file, 'utf8');
    svc.keys = new Set([...text.matchAll(/^\s*([A-Z][A-Z0-9_]*)\s*:\s*\S/gm)].map((m) => m[1]));
    svc.required = new Set([...text.matchAll(/^\s*([A-Z][A-Z0-9_]*)\s*:\s*(?:field\.(?:requiredString|secret|httpsUrl|wssUrl)\(\)|publicStreamUrl\(\))/gm)].map((m) => m[1]));
    const num = (re) => Number((re.exec(text) || [])[1]?.replace(/_/g, ''));
    svc.defaults = { port: num(/^\s*port:\s*([\d_]+)/m), drainTimeoutMs: num(/^\s*drainTimeoutMs:\s*([\d_]+)/m) };
    const linkPort = num(/^\s*mediaLinkPort:\s*([\d_]+)/m);
    if (linkPort) svc.defaults.link = { port: linkPort };
    const mediaPath = /MEDIA_PATH\s*=\s*'([^']+)'/.exec(text);
    if (mediaPath) svc.module = { MEDIA_PATH: mediaPath[1] };
  }
  svc.portKey = [...svc.keys].find((k) => k.endsWith('_PORT'));
  services.push(svc);
  ok(`${svc.file}: ${svc.keys.size} variables${viaTsx ? ' (read through parseEnv)' : ''}; required: ${list(svc.required) || 'none'}`);
}
if (services.length !== 3) fail(`expected 3 apps with src/config.ts, found ${services.length}: ${services.map((s) => s.name).join(', ')}`);
const byName = new Map(services.map((s) => [s.name, s]));
const configKeys = new Set(services.flatMap((s) => [...s.keys]));
const readersOf = (key) => services.filter((s) => s.keys.has(key));

// The media link (packages/media-link): each bridge listens on MEDIA_LINK_PORT
// and publishes MEDIA_LINK_HOST in the bridge registry; each gateway dials
// every bridge. Both ends prove MEDIA_LINK_SECRET. Internal only: never published.
const linkListener = readersOf('MEDIA_LINK_PORT')[0];
const linkPort = linkListener?.defaults?.link?.port;
const linkEnds = readersOf('MEDIA_LINK_SECRET');
// Variables both ends of the link read (secret, ping and dead-peer timings,
// heartbeat, claim timeout) must have one value on both, or the link breaks.
const linkShared = sorted(linkEnds.reduce((acc, s) => (acc ? new Set([...acc].filter((k) => s.keys.has(k))) : new Set(s.keys)), undefined) || []).filter((k) => k !== 'INSTANCE_ID');
if (!linkListener || !linkPort) fail('no apps/*/src/config.ts reads MEDIA_LINK_PORT with a default (the bridge\'s media link listener)');
else if (linkEnds.length < 2) fail(`MEDIA_LINK_SECRET is read by ${list(linkEnds.map((s) => s.name)) || 'no service'}: both the gateway and the bridge must prove it`);
else ok(`media link: ${linkListener.name} listens on ${linkPort}; MEDIA_LINK_SECRET read by ${list(linkEnds.map((s) => s.name))}`);

// --- .env.example --------------------------------------------------------------
const entries = [];
{
  const lines = readFileSync(join(root, ENV_FILE), 'utf8').split('\n');
  let comment = [];
  lines.forEach((line, i) => {
    const m = /^(#\s?)?([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    if (m) {
      entries.push({ name: m[2], value: m[3], commented: Boolean(m[1]), line: i + 1, comment: comment.join(' ') });
      comment = [];
    } else if (line.startsWith('#')) comment.push(line.replace(/^#\s?/, ''));
    else comment = [];
  });
}
const envNames = new Set(entries.map((e) => e.name));
{
  const seen = new Set();
  for (const e of entries) {
    if (seen.has(e.name)) fail(`${ENV_FILE}:${e.line}: ${e.name} is listed twice`);
    seen.add(e.name);
  }
}
const unknown = sorted(envNames).filter((n) => !configKeys.has(n) && !(n in EXTRAS));
if (unknown.length) fail(`${ENV_FILE} lists variables no apps/*/src/config.ts reads and not documented extras: ${unknown.join(', ')}`);
else ok(`every variable in ${ENV_FILE} (${envNames.size}) is read by a config.ts or is a documented extra (${Object.keys(EXTRAS).join(', ')})`);
const missing = sorted(configKeys).filter((k) => !envNames.has(k));
if (missing.length) fail(`${ENV_FILE} is missing variables read by config.ts: ${missing.join(', ')}`);
else ok(`every variable read by the config.ts files (${configKeys.size}) is in ${ENV_FILE}`);
for (const extra of Object.keys(EXTRAS)) {
  if (!envNames.has(extra)) fail(`${ENV_FILE} should document ${extra} (${EXTRAS[extra]})`);
}

const requiredAnywhere = new Set(services.flatMap((s) => [...s.required]));
for (const e of entries) {
  const where = `${ENV_FILE}:${e.line} ${e.name}`;
  if (requiredAnywhere.has(e.name)) {
    if (e.commented || !/^REQUIRED\b/.test(e.comment)) fail(`${where} is required: it must be uncommented with a comment starting "REQUIRED"`);
  } else {
    if (!e.commented) fail(`${where} has a default (or is optional): it must be commented out`);
    if (/\bREQUIRED\b/.test(e.comment)) fail(`${where} is marked REQUIRED but the code does not require it`);
  }
  if (!e.comment) fail(`${where} has no comment line above it`);
}
ok(`${ENV_FILE}: REQUIRED marks match the code (${list(requiredAnywhere)})`);

// The value shown for a defaulted variable must be the code's default: loading
// the config with that value set must give the same result as leaving it unset.
if (viaTsx) {
  let checked = 0;
  for (const e of entries) {
    if (!e.commented || e.value === '' || !configKeys.has(e.name)) continue;
    const readers = readersOf(e.name);
    const differs = [];
    for (const s of readers) {
      let same;
      try { same = JSON.stringify(s.load({ ...s.base, [e.name]: e.value })) === JSON.stringify(s.defaults); } catch (err) { same = false; }
      if (!same) differs.push(s.name);
    }
    checked++;
    if (differs.length === readers.length) fail(`${ENV_FILE}:${e.line} ${e.name}=${e.value} is not the default in ${differs.join(', ')}`);
    else if (differs.length && !/differ/.test(e.comment)) fail(`${ENV_FILE}:${e.line} ${e.name}=${e.value} is not the default in ${differs.join(', ')}, and its comment does not say the defaults differ`);
  }
  ok(`${ENV_FILE}: the ${checked} defaults shown equal the code's (loading the config with each one changes nothing)`);
}

// --- YAML (js-yaml: a dependency already in node_modules) -----------------------
let yaml;
try { yaml = createRequire(join(root, 'package.json'))('js-yaml'); } catch { /* below */ }
if (!yaml) {
  warn('js-yaml is not installed (npm ci first): compose and k8s structure not checked');
  console.log(`__RESULT__ ${failures} ${warnings}`);
  process.exit(0);
}

const secondsOf = (v) => {
  const m = /^(\d+)(s|m)?$/.exec(String(v));
  return m ? Number(m[1]) * (m[2] === 'm' ? 60 : 1) : NaN;
};
const serviceOfCommand = (command) => {
  const text = [].concat(command || []).join(' ');
  const m = /apps\/([\w-]+)\/dist\/main\.js/.exec(text);
  return m ? byName.get(m[1]) ?? { missing: m[1] } : undefined;
};
// A compose value `${VAR:-default}` counts as its default (empty: the code's default).
const uninterpolated = (value) => {
  const m = /^\$\{[A-Za-z_][A-Za-z0-9_]*(?::?-(.*))?\}$/.exec(String(value ?? ''));
  return m ? m[1] : value;
};
const drainMsOf = (svc, value) => {
  const v = uninterpolated(value);
  return v !== undefined && v !== '' ? Number(v) : svc.defaults?.drainTimeoutMs ?? NaN;
};
const SHUTDOWN_MARGIN_S = 5; // each main.ts: deadline = DRAIN_TIMEOUT_MS + 5 s
const defaultPort = (svc) => svc.defaults?.port;

// --- docker-compose.yml ---------------------------------------------------------
const compose = yaml.load(readFileSync(join(root, 'docker-compose.yml'), 'utf8'));
const composeServices = compose.services || {};
const envObject = (environment) =>
  Array.isArray(environment)
    ? Object.fromEntries(environment.map((s) => { const i = String(s).indexOf('='); return i < 0 ? [s, undefined] : [s.slice(0, i), s.slice(i + 1)]; }))
    : environment || {};
const composeApps = new Set();
for (const [cname, c] of Object.entries(composeServices)) {
  const svc = serviceOfCommand(c.command);
  if (!svc) continue;
  const where = `docker-compose.yml ${cname}`;
  const failuresBefore = failures;
  if (svc.missing) { fail(`${where} runs apps/${svc.missing}, which has no src/config.ts`); continue; }
  composeApps.add(svc.name);
  if (cname !== svc.name) fail(`${where} runs ${svc.name}: name the compose service after the app (nginx upstreams use it)`);
  const env = envObject(c.environment);
  const keys = new Set(Object.keys(env));
  const notInExample = sorted(keys).filter((k) => !envNames.has(k));
  if (notInExample.length) fail(`${where} sets variables not in ${ENV_FILE}: ${notInExample.join(', ')}`);
  const notRead = sorted(keys).filter((k) => !svc.keys.has(k) && !(k in EXTRAS));
  if (notRead.length) fail(`${where} sets variables ${svc.name} does not read: ${notRead.join(', ')}`);
  const notPassed = sorted(svc.keys).filter((k) => k !== 'INSTANCE_ID' && !keys.has(k));
  if (notPassed.length) fail(`${where} does not pass ${notPassed.join(', ')} (so .env cannot set them)`);
  if (keys.has('INSTANCE_ID')) fail(`${where} sets INSTANCE_ID: replicas would share it`);
  for (const [k, v] of Object.entries(env)) {
    const refs = [...String(v ?? '').matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]);
    if (refs.some((r) => r !== k)) fail(`${where} ${k} interpolates ${refs.join(', ')}: use \${${k}:-} so .env keeps one name per variable`);
  }
  const port = String(env[svc.portKey] ?? '');
  if (port !== String(defaultPort(svc))) fail(`${where} ${svc.portKey}=${port}, the code's default is ${defaultPort(svc)}`);
  const health = [].concat(c.healthcheck?.test || []).join(' ');
  if (!health.includes(`127.0.0.1:${port}/healthz`)) fail(`${where} healthcheck does not GET 127.0.0.1:${port}/healthz`);
  if (![].concat(c.expose || []).map(String).includes(port)) fail(`${where} does not expose ${port}`);
  const drainS = drainMsOf(svc, env.DRAIN_TIMEOUT_MS) / 1000;
  const grace = secondsOf(c.stop_grace_period);
  if (!(grace > drainS + SHUTDOWN_MARGIN_S)) fail(`${where} stop_grace_period ${c.stop_grace_period} must exceed DRAIN_TIMEOUT_MS (${drainS} s) + ${SHUTDOWN_MARGIN_S} s`);
  const dep = c.depends_on || {};
  if (dep.migrate?.condition !== 'service_completed_successfully') fail(`${where} must wait for migrate (service_completed_successfully)`);
  if (failures === failuresBefore) ok(`${where}: ${keys.size} variables, port ${port}, healthcheck /healthz, stop_grace_period ${c.stop_grace_period} > ${drainS + SHUTDOWN_MARGIN_S} s${c.deploy?.replicas ? `, ${c.deploy.replicas} replicas` : ''}`);
}
for (const s of services) if (!composeApps.has(s.name)) fail(`docker-compose.yml has no service running apps/${s.name}`);

// The media link in compose: the listener's port stays inside the compose
// network, each replica publishes its own address, both ends share one value
// for every variable they both read.
const containerPortsOf = (ports) =>
  [].concat(ports || []).flatMap((p) => {
    if (p && typeof p === 'object') return [Number(p.target)];
    const [from, to] = String(p).split('/')[0].split(':').pop().split('-').map(Number);
    return to ? Array.from({ length: to - from + 1 }, (_, i) => from + i) : [from];
  });
const composeLinkEnds = new Map();
for (const [cname, c] of Object.entries(composeServices)) {
  const svc = serviceOfCommand(c.command);
  if (!svc || svc.missing) continue;
  if (linkEnds.includes(svc)) composeLinkEnds.set(cname, envObject(c.environment));
  if (svc !== linkListener || !linkPort) continue;
  const where = `docker-compose.yml ${cname}`;
  const failuresBefore = failures;
  const env = envObject(c.environment);
  const value = String(env.MEDIA_LINK_PORT ?? '');
  if (value !== String(linkPort)) fail(`${where} MEDIA_LINK_PORT=${value}, the code's default is ${linkPort}`);
  if (![].concat(c.expose || []).map(String).includes(String(linkPort))) fail(`${where} does not expose ${linkPort} (the media link the gateways dial)`);
  if (containerPortsOf(c.ports).includes(linkPort)) fail(`${where} publishes the media link port ${linkPort} on the host: it must stay inside the compose network`);
  if (c.network_mode === 'host') fail(`${where} uses network_mode: host, which puts the media link port ${linkPort} on the host`);
  const replicas = c.deploy?.replicas ?? 1;
  const host = String(env.MEDIA_LINK_HOST ?? '');
  if (replicas > 1 && host !== '') fail(`${where} MEDIA_LINK_HOST=${host} with ${replicas} replicas: one name for every replica sends gateways to a random one; leave it "" (each container's hostname, which Docker's DNS resolves)`);
  if (failures === failuresBefore) ok(`${where}: media link on ${linkPort}, exposed to the compose network only (not published), MEDIA_LINK_HOST ${host === '' ? 'each container\'s own hostname' : host}`);
}
if (composeLinkEnds.size >= 2) {
  const [first, ...rest] = [...composeLinkEnds];
  const differ = linkShared.filter((k) => rest.some(([, env]) => String(env[k] ?? '') !== String(first[1][k] ?? '')));
  if (differ.length) fail(`docker-compose.yml: ${differ.join(', ')} differ between ${[...composeLinkEnds.keys()].join(' and ')}; both ends of the media link need one value`);
  else ok(`docker-compose.yml: ${[...composeLinkEnds.keys()].join(' and ')} pass the same ${linkShared.filter((k) => /MEDIA_LINK|HEARTBEAT|CLAIM/.test(k)).join(', ')}`);
}
for (const name of ['media-gateway', 'realtime-bridge']) {
  if (!((composeServices[name]?.deploy?.replicas ?? 1) >= 2)) fail(`docker-compose.yml ${name} should run 2 replicas (deploy.replicas)`);
}
{
  const m = composeServices.migrate;
  const cmd = [].concat(m?.command || []).join(' ');
  if (!m) fail('docker-compose.yml has no migrate service');
  else if (!/packages\/db\/dist\/cli\.js migrate/.test(cmd) || m.depends_on?.postgres?.condition !== 'service_healthy') fail('docker-compose.yml migrate must run packages/db/dist/cli.js migrate after postgres is healthy');
  else ok(`docker-compose.yml migrate: ${cmd.replace(/^sh -c /, '')}`);
  const pg = composeServices.postgres?.environment || {};
  const urls = new Set(Object.values(composeServices).map((c) => envObject(c.environment).DATABASE_URL).filter(Boolean));
  for (const u of urls) {
    const url = new URL(u);
    const expect = { user: pg.POSTGRES_USER || 'postgres', password: pg.POSTGRES_PASSWORD || '', db: pg.POSTGRES_DB || pg.POSTGRES_USER || 'postgres' };
    if (url.hostname !== 'postgres' || url.username !== expect.user || decodeURIComponent(url.password) !== expect.password || url.pathname !== `/${expect.db}`) fail(`docker-compose.yml DATABASE_URL ${u} does not match the postgres service (${JSON.stringify(expect)})`);
  }
  if (urls.size === 1) ok(`docker-compose.yml: one DATABASE_URL for every service, matching the postgres service`);
  else fail(`docker-compose.yml uses ${urls.size} different DATABASE_URLs`);
  const lbVolumes = [].concat(composeServices.lb?.volumes || []).map(String);
  if (!lbVolumes.some((v) => v.startsWith('./infra/nginx/nginx.conf:'))) fail('docker-compose.yml lb must mount ./infra/nginx/nginx.conf');
}

// --- nginx.conf vs compose and code ------------------------------------------------
{
  const conf = readFileSync(join(root, 'infra/nginx/nginx.conf'), 'utf8').replace(/#.*$/gm, '');
  const mediaPath = byName.get('media-gateway')?.module?.MEDIA_PATH ?? '/ws/twilio-media';
  for (const m of conf.matchAll(/^\s*server\s+([A-Za-z][\w.-]*):(\d+)/gm)) {
    const svc = byName.get(m[1]);
    if (!svc || !composeServices[m[1]]) fail(`nginx.conf upstream server ${m[1]}:${m[2]} is not a compose service running that app`);
    else if (String(defaultPort(svc)) !== m[2]) fail(`nginx.conf upstream ${m[1]}:${m[2]}: ${m[1]} listens on ${defaultPort(svc)}`);
    else ok(`nginx.conf upstream ${m[1]}:${m[2]} matches compose service and ${svc.portKey}`);
  }
  const blockOf = (loc) => {
    const start = conf.indexOf(`location ${loc} {`);
    return start < 0 ? undefined : conf.slice(start, conf.indexOf('}', start));
  };
  const ws = blockOf(mediaPath);
  const hook = blockOf('/twilio/');
  const need = (block, label, re, what) => (block && re.test(block) ? true : (fail(`nginx.conf ${label}: ${what}`), false));
  if (!ws) fail(`nginx.conf has no "location ${mediaPath}" (MEDIA_PATH in apps/media-gateway/src/config.ts)`);
  else {
    const all = [
      need(ws, mediaPath, /proxy_pass\s+http:\/\/[\w.-]+;/, 'proxy_pass to an upstream with no URI (path passed untouched)'),
      need(ws, mediaPath, /proxy_http_version\s+1\.1;/, 'proxy_http_version 1.1'),
      need(ws, mediaPath, /proxy_set_header\s+Upgrade\s+\$http_upgrade;/, 'Upgrade header'),
      need(ws, mediaPath, /proxy_set_header\s+Connection\s+\$connection_upgrade;/, 'Connection header'),
      need(ws, mediaPath, /proxy_read_timeout\s+3600s;/, 'proxy_read_timeout 3600s'),
    ];
    if (all.every(Boolean)) ok(`nginx.conf location ${mediaPath}: WebSocket upgrade, HTTP/1.1, 3600 s read timeout, path untouched`);
  }
  if (!hook) fail('nginx.conf has no "location /twilio/"');
  else if (need(hook, '/twilio/', /proxy_pass\s+http:\/\/[\w.-]+;/, 'proxy_pass to an upstream with no URI (path passed untouched)')) ok('nginx.conf location /twilio/: proxied to the webhook, path untouched');
  if (/location\s+=\s+\/healthz\s*\{[^}]*return\s+200/.test(conf)) ok('nginx.conf answers /healthz itself'); else fail('nginx.conf: no "location = /healthz" returning 200');
  if (/proxy_set_header\s+X-Twilio-Signature|proxy_pass_request_headers\s+off|underscores_in_headers/i.test(conf)) fail('nginx.conf touches request headers Twilio signs with (X-Twilio-Signature must pass as sent)');
}

// --- infra/k8s --------------------------------------------------------------------
{
  const dir = join(root, 'infra/k8s');
  const docs = [];
  for (const f of readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort()) {
    for (const doc of yaml.loadAll(readFileSync(join(dir, f), 'utf8'))) if (doc) docs.push({ file: `infra/k8s/${f}`, doc });
  }
  const kinds = (k) => docs.filter((d) => d.doc.kind === k);
  const kust = docs.find((d) => d.doc.kind === 'Kustomization');
  for (const r of kust?.doc.resources || []) if (!existsSync(join(dir, r))) fail(`infra/k8s/kustomization.yaml lists ${r}, which does not exist`);
  const configMaps = new Map(kinds('ConfigMap').map((d) => [d.doc.metadata.name, d.doc.data || {}]));
  const configMapKeys = new Map([...configMaps].map(([name, data]) => [name, new Set(Object.keys(data))]));
  const secretKeys = new Map(kinds('Secret').map((d) => [d.doc.metadata.name, new Set(Object.keys({ ...(d.doc.data || {}), ...(d.doc.stringData || {}) }))]));
  for (const [name, keys] of [...configMapKeys, ...secretKeys]) {
    const bad = sorted(keys).filter((k) => !envNames.has(k));
    if (bad.length) fail(`infra/k8s ${name} holds variables not in ${ENV_FILE}: ${bad.join(', ')}`);
    if (keys.has('INSTANCE_ID')) fail(`infra/k8s ${name} sets INSTANCE_ID: replicas would share it`);
  }
  if (configMapKeys.size && secretKeys.size) ok(`infra/k8s ConfigMap (${list(configMapKeys.values().next().value)}) / Secret (${list(secretKeys.values().next().value)}) keys are all in ${ENV_FILE}`);
  else fail('infra/k8s needs a ConfigMap and a Secret (template) for the environment');
  const svcObjects = kinds('Service');
  const k8sApps = new Set();
  const k8sLinkEnds = new Map();
  for (const { file, doc } of [...kinds('Deployment'), ...kinds('Job')]) {
    const pod = doc.spec.template.spec;
    for (const c of pod.containers) {
      const where = `${file} ${doc.kind}/${doc.metadata.name}`;
      const failuresBefore = failures;
      const envKeys = new Set((c.env || []).map((e) => e.name));
      const bad = sorted(envKeys).filter((k) => !envNames.has(k));
      if (bad.length) fail(`${where} sets variables not in ${ENV_FILE}: ${bad.join(', ')}`);
      for (const e of c.env || []) {
        const ref = e.valueFrom?.secretKeyRef;
        if (ref && !secretKeys.get(ref.name)?.has(ref.key)) fail(`${where} ${e.name} refers to secret ${ref.name}/${ref.key}, not in the Secret template`);
      }
      if (!c.resources?.requests) fail(`${where} has no resource requests`);
      const svc = serviceOfCommand(c.command);
      if (!svc) {
        if (failures === failuresBefore && /packages\/db\/dist\/cli\.js/.test([].concat(c.command || []).join(' '))) ok(`${where}: runs the db cli (${[].concat(c.command).slice(2).join(' ')})`);
        continue;
      }
      if (svc.missing) { fail(`${where} runs apps/${svc.missing}, which has no src/config.ts`); continue; }
      k8sApps.add(svc.name);
      if (envKeys.has('INSTANCE_ID')) fail(`${where} sets INSTANCE_ID: replicas would share it`);
      const fromMaps = new Set();
      const mapValues = {};
      for (const src of c.envFrom || []) {
        if (src.configMapRef) Object.assign(mapValues, configMaps.get(src.configMapRef.name));
        if (src.configMapRef) for (const k of configMapKeys.get(src.configMapRef.name) || []) fromMaps.add(k);
        if (src.secretRef) for (const k of secretKeys.get(src.secretRef.name) || []) fromMaps.add(k);
      }
      const missingRequired = sorted(svc.required).filter((k) => !envKeys.has(k) && !fromMaps.has(k));
      if (missingRequired.length) fail(`${where} does not provide required ${missingRequired.join(', ')}`);
      const envValue = (k) => (c.env || []).find((e) => e.name === k)?.value;
      const port = defaultPort(svc);
      if (String(envValue(svc.portKey) ?? port) !== String(port)) fail(`${where} ${svc.portKey}=${envValue(svc.portKey)}, expected ${port}`);
      const portNames = new Map((c.ports || []).map((p) => [p.name, p.containerPort]));
      const probe = (p, path) => p?.httpGet?.path === path && (portNames.get(p.httpGet.port) ?? p.httpGet.port) === port;
      if (![...portNames.values()].includes(port)) fail(`${where} has no containerPort ${port}`);
      if (!probe(c.readinessProbe, '/readyz')) fail(`${where} readinessProbe must GET /readyz on ${port}`);
      if (!probe(c.livenessProbe, '/healthz')) fail(`${where} livenessProbe must GET /healthz on ${port}`);
      const preStop = [].concat(c.lifecycle?.preStop?.exec?.command || []);
      const preStopS = preStop[0] === 'sleep' ? Number(preStop[1]) : 0;
      const drainS = drainMsOf(svc, envValue('DRAIN_TIMEOUT_MS') ?? mapValues.DRAIN_TIMEOUT_MS) / 1000;
      const need = preStopS + drainS + SHUTDOWN_MARGIN_S;
      const grace = pod.terminationGracePeriodSeconds ?? 30;
      if (!(grace > need)) fail(`${where} terminationGracePeriodSeconds ${grace} must exceed preStop ${preStopS} s + DRAIN_TIMEOUT_MS ${drainS} s + ${SHUTDOWN_MARGIN_S} s`);
      if (linkEnds.includes(svc)) k8sLinkEnds.set(svc.name, { doc, container: c });
      if (svc === linkListener && linkPort) {
        const linkValue = Number(envValue('MEDIA_LINK_PORT') ?? mapValues.MEDIA_LINK_PORT ?? linkPort);
        if (![...portNames.values()].includes(linkValue)) fail(`${where} has no containerPort ${linkValue} for the media link (MEDIA_LINK_PORT)`);
        const hostEnv = (c.env || []).find((e) => e.name === 'MEDIA_LINK_HOST');
        if (hostEnv?.valueFrom?.fieldRef?.fieldPath !== 'status.podIP') fail(`${where} MEDIA_LINK_HOST must come from the pod IP (valueFrom.fieldRef.fieldPath: status.podIP): gateways dial the address each bridge publishes`);
      }
      const exposed = svcObjects.find((s) => s.doc.spec.selector?.['app.kubernetes.io/name'] === doc.spec.selector.matchLabels['app.kubernetes.io/name']);
      const exposedPort = exposed?.doc.spec.ports?.[0];
      if (!exposed || (portNames.get(exposedPort?.targetPort) ?? exposedPort?.targetPort) !== port) fail(`${where} has no Service reaching port ${port}`);
      if (failures === failuresBefore) ok(`${where}: ${svc.name} on ${port}, probes /readyz + /healthz, grace ${grace} s > ${need} s, required ${list(svc.required) || 'none'} provided`);
    }
  }
  for (const s of services) if (!k8sApps.has(s.name)) fail(`infra/k8s has no Deployment running apps/${s.name}`);

  // The media link in Kubernetes: gateways dial bridge pod IPs (from the
  // registry), so no Service fronts the link port, and a NetworkPolicy lets
  // only gateway pods reach it.
  const listener = linkListener && k8sLinkEnds.get(linkListener.name);
  const dialers = [...k8sLinkEnds].filter(([name]) => name !== linkListener?.name);
  if (listener && linkPort) {
    const nameOf = (pod) => pod.doc.spec.selector.matchLabels['app.kubernetes.io/name'];
    const bridgeName = nameOf(listener);
    const linkPortNames = new Set((listener.container.ports || []).filter((p) => p.containerPort === linkPort).map((p) => p.name).filter(Boolean));
    const isLinkPort = (port) => port === linkPort || linkPortNames.has(port);
    const fronting = svcObjects.filter((s) => s.doc.spec.selector?.['app.kubernetes.io/name'] === bridgeName && (s.doc.spec.ports || []).some((p) => isLinkPort(p.targetPort ?? p.port)));
    if (fronting.length) fail(`infra/k8s Service ${fronting.map((s) => s.doc.metadata.name).join(', ')} exposes the media link port ${linkPort}: gateways dial pod IPs from the registry; keep the port off Services`);
    const gatewayNames = new Set(dialers.map(([, pod]) => nameOf(pod)));
    const policies = kinds('NetworkPolicy').filter((d) => d.doc.spec?.podSelector?.matchLabels?.['app.kubernetes.io/name'] === bridgeName && (d.doc.spec.policyTypes || ['Ingress']).includes('Ingress'));
    const admitting = policies.flatMap((d) => d.doc.spec.ingress || []).filter((r) => !r.ports || r.ports.some((p) => isLinkPort(p.port)));
    const onlyGateways = (r) => Array.isArray(r.from) && r.from.length > 0 && r.from.every((f) => !f.ipBlock && !f.namespaceSelector && gatewayNames.has(f.podSelector?.matchLabels?.['app.kubernetes.io/name']));
    if (!policies.length) fail(`infra/k8s: no NetworkPolicy selects the ${bridgeName} pods, so every pod in the cluster can reach the media link port ${linkPort}`);
    else if (!admitting.length) fail(`infra/k8s NetworkPolicy for ${bridgeName} admits nobody to the media link port ${linkPort}: gateways could not dial the bridges`);
    else if (!admitting.every(onlyGateways)) fail(`infra/k8s NetworkPolicy for ${bridgeName} admits more than the gateway pods (${[...gatewayNames].join(', ')}) to the media link port ${linkPort}`);
    else if (!fronting.length) ok(`infra/k8s media link: ${bridgeName} port ${linkPort} on no Service, NetworkPolicy ${policies.map((d) => d.doc.metadata.name).join(', ')} admits only ${[...gatewayNames].join(', ')} pods`);
  }
  if (listener && dialers.length) {
    const entryOf = (pod, k) => {
      const e = (pod.container.env || []).find((x) => x.name === k);
      return e && JSON.stringify({ value: e.value, valueFrom: e.valueFrom });
    };
    const pods = [listener, ...dialers.map(([, pod]) => pod)];
    const differ = linkShared.filter((k) => {
      const values = pods.map((pod) => entryOf(pod, k));
      return values.every((v) => v !== undefined) && new Set(values).size > 1;
    });
    if (differ.length) fail(`infra/k8s: ${differ.join(', ')} differ between ${[...k8sLinkEnds.keys()].join(' and ')}; both ends of the media link need one value`);
    else ok(`infra/k8s: ${[...k8sLinkEnds.keys()].join(' and ')} agree on the variables both ends of the media link read (MEDIA_LINK_SECRET from ${entryOf(listener, 'MEDIA_LINK_SECRET') ? 'the same secret key' : 'envFrom'})`);
  }
  const ingress = kinds('Ingress')[0]?.doc;
  const paths = (ingress?.spec.rules || []).flatMap((r) => r.http.paths.map((p) => [p.path, p.backend.service.name]));
  const mediaPath = byName.get('media-gateway')?.module?.MEDIA_PATH ?? '/ws/twilio-media';
  const routes = new Map(paths);
  if (routes.get(mediaPath) === 'media-gateway' && routes.get('/twilio') === 'webhook' && ingress.spec.tls?.length) ok(`infra/k8s Ingress: TLS, ${mediaPath} -> media-gateway, /twilio -> webhook`);
  else fail(`infra/k8s Ingress must terminate TLS and route ${mediaPath} -> media-gateway, /twilio -> webhook (has ${JSON.stringify(paths)})`);
}

// --- workspace dependencies (turbo's ^build order and the image's npm ci) -------------
{
  const dirs = ['apps', 'packages'].flatMap((top) => readdirSync(join(root, top), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => `${top}/${d.name}`));
  const problems = [];
  for (const dir of dirs) {
    const pkgFile = join(root, dir, 'package.json');
    if (!existsSync(pkgFile) || !existsSync(join(root, dir, 'src'))) continue;
    const pkg = JSON.parse(readFileSync(pkgFile, 'utf8'));
    const declared = { ...pkg.dependencies, ...pkg.devDependencies, ...pkg.peerDependencies };
    const used = new Set();
    const walk = (d) => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        if (e.isDirectory()) walk(join(d, e.name));
        else if (/\.ts$/.test(e.name) && !/\.test\.ts$/.test(e.name)) for (const m of readFileSync(join(d, e.name), 'utf8').matchAll(/from\s+'(@voice\/[\w-]+)'/g)) used.add(m[1]);
      }
    };
    walk(join(root, dir, 'src'));
    used.delete(pkg.name);
    const undeclared = sorted(used).filter((u) => !(u in declared));
    if (undeclared.length) problems.push(`${dir} imports ${undeclared.join(', ')} without declaring it`);
  }
  if (problems.length) warn(`workspace dependencies: turbo may build a package before what it imports, breaking the image's npm run build: ${problems.join('; ')}`);
  else ok('every workspace declares the @voice/* packages its src imports (turbo builds them first)');
}

console.log(`__RESULT__ ${failures} ${warnings}`);
NODE

if [ -d node_modules/tsx ]; then
  node --conditions=source --import tsx "$TMP/check.mjs" >"$TMP/node.out" 2>&1
else
  echo "      tsx is not installed (npm ci first): falling back to reading config.ts as text"
  node "$TMP/check.mjs" >"$TMP/node.out" 2>&1
fi
node_status=$?
grep -v '^__RESULT__' "$TMP/node.out"
result=$(grep '^__RESULT__' "$TMP/node.out" || true)
if [ -z "$result" ]; then
  fail "the structured checks did not finish (exit $node_status)"
else
  read -r _ node_failures node_warnings <<<"$result"
  FAILURES=$((FAILURES + node_failures))
  WARNINGS=$((WARNINGS + node_warnings))
fi

# ---------------------------------------------------------------------------
echo
if [ "$FAILURES" -gt 0 ]; then
  echo "infra/check.sh: $FAILURES check(s) FAILED, $WARNINGS warning(s)"
  exit 1
fi
echo "infra/check.sh: all checks passed, $WARNINGS warning(s)"
