#!/usr/bin/env bash
# Checks the deployment files without a Docker engine or a cluster:
#   1. docker-compose.yml parses and validates (`docker compose config -q`);
#   2. infra/nginx/nginx.conf passes `nginx -t`; infra/prometheus passes
#      `promtool check config`, `check rules` and its alert unit tests;
#   3. the Dockerfile's shape, and (a warning: the lock file belongs to the
#      workspaces) whether `npm ci` accepts the lock file;
#   4. the deployment files against the code: .env.example, docker-compose.yml,
#      nginx.conf and infra/k8s (variables, ports, paths, drain vs grace, the
#      media link kept internal), and every workspace declaring the @voice/*
#      packages it imports. That part is TypeScript: scripts/infra-check/
#      (type-checked and linted with the rest); this script drives the tools.
# Usage: bash infra/check.sh      Exit status: 0 when nothing FAILed.
# It installs nothing: .ci/run installs nginx, docker-compose and promtool
# (Debian's nginx-light, docker-compose, prometheus); without them those
# checks are skipped.
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

# The structured checks (scripts/infra-check/main.ts <section>): their lines,
# then their counts added to ours.
run_structured() {
  if [ ! -d node_modules/tsx ]; then
    fail "scripts/infra-check needs the dev dependencies: npm ci first"
    return
  fi
  node --conditions=source --import tsx scripts/infra-check/main.ts "$1" >"$TMP/structured.out" 2>&1
  local status=$?
  grep -v '^__RESULT__' "$TMP/structured.out"
  local result
  result=$(grep '^__RESULT__' "$TMP/structured.out" || true)
  if [ -z "$result" ]; then
    fail "scripts/infra-check/main.ts $1 did not finish (exit $status)"
    return
  fi
  local _tag node_failures node_warnings
  read -r _tag node_failures node_warnings <<<"$result"
  FAILURES=$((FAILURES + node_failures))
  WARNINGS=$((WARNINGS + node_warnings))
}

# ---------------------------------------------------------------------------
section "docker compose config"
# ---------------------------------------------------------------------------
COMPOSE=()
if command -v docker >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; then
  COMPOSE=(docker compose)
elif command -v docker-compose >/dev/null 2>&1; then
  COMPOSE=(docker-compose)
fi
if [ ${#COMPOSE[@]} -eq 0 ]; then
  skip "neither 'docker compose' nor docker-compose is installed (apt-get install docker-compose): docker-compose.yml not validated by compose"
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

# ---------------------------------------------------------------------------
section "nginx -t"
# ---------------------------------------------------------------------------
NGINX=$(command -v nginx || true)
[ -z "$NGINX" ] && [ -x /usr/sbin/nginx ] && NGINX=/usr/sbin/nginx
if [ -z "$NGINX" ] || [ ! -x "$NGINX" ]; then
  skip "nginx is not installed (apt-get install nginx-light): infra/nginx/nginx.conf not tested"
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
section "promtool (infra/prometheus)"
# ---------------------------------------------------------------------------
if ! command -v promtool >/dev/null 2>&1; then
  skip "promtool is not installed (apt-get install prometheus): alert rules not checked"
else
  for step in "check config prometheus.yml" "check rules alerts.yml" "test rules alerts.test.yml"; do
    # shellcheck disable=SC2086 # each step is a promtool subcommand and its file
    if out=$(cd infra/prometheus && promtool $step 2>&1); then
      ok "promtool $step ($(printf '%s\n' "$out" | grep -Eo 'SUCCESS.*|[0-9]+ rules found' | tail -n1))"
    else
      fail "promtool $step:"
      printf '%s\n' "$out" | sed 's/^/      /'
    fi
  done
fi

# ---------------------------------------------------------------------------
section "Dockerfile"
# ---------------------------------------------------------------------------
run_structured dockerfile

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
run_structured config

# ---------------------------------------------------------------------------
echo
if [ "$FAILURES" -gt 0 ]; then
  echo "infra/check.sh: $FAILURES check(s) FAILED, $WARNINGS warning(s)"
  exit 1
fi
echo "infra/check.sh: all checks passed, $WARNINGS warning(s)"
