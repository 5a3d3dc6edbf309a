/**
 * The dashboard (infra/grafana) and the alert rules (infra/prometheus) read
 * only metrics the services really export, with labels those metrics have;
 * the dashboard covers every area on-call needs; and, where promtool is
 * installed (.ci/run installs it), every query parses and the alert unit
 * tests in infra/prometheus/alerts.test.yml pass.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { Registry } from 'prom-client';
import { createLinkMetrics } from '@voice/media-link';
import { createMetricsRegistry } from '@voice/runtime';
import { REPO_ROOT } from '@voice/testkit';
import { createGatewayMetrics } from '../../apps/media-gateway/src/metrics.js';
import { createBridgeMetrics } from '../../apps/realtime-bridge/src/metrics.js';
import { createWebhookMetrics } from '../../apps/webhook/src/metrics.js';
import { promqlNames } from '../support/promql.js';

const yaml = createRequire(import.meta.url)('js-yaml') as { load(text: string): unknown };

const PROMETHEUS_DIR = join(REPO_ROOT, 'infra/prometheus');
const DASHBOARD_FILE = join(REPO_ROOT, 'infra/grafana/dashboards/voice-backend.json');
const DATASOURCE_FILE = join(REPO_ROOT, 'infra/grafana/provisioning/datasources/prometheus.yml');
/** Series Prometheus itself makes for every scrape target. */
const SCRAPE_SERIES = new Set(['up']);
/** Labels every series has: the services' default labels, and the scrape job. */
const COMMON_LABELS = ['service', 'instance', 'job'];
/** What `$__rate_interval` becomes when the dashboard's queries are handed to promtool. */
const RATE_INTERVAL_FOR_CHECK = '5m';

interface Exported {
  /** Series name -> the label names it carries. */
  series: Map<string, Set<string>>;
}

/** Every series the three services and the media link register, histogram _bucket/_sum/_count included. */
async function exportedSeries(): Promise<Exported> {
  const registry = new Registry();
  createGatewayMetrics(registry);
  createBridgeMetrics(registry);
  createWebhookMetrics(registry);
  createLinkMetrics(registry);
  // The process metrics each service's registry collects too (process_cpu_seconds_total, nodejs_*).
  const service = createMetricsRegistry('check', 'check');
  const series = new Map<string, Set<string>>();
  for (const reg of [registry, service]) {
    for (const metric of await reg.getMetricsAsJSON()) {
      const own = reg.getSingleMetric(metric.name) as unknown as { labelNames?: string[] };
      const labels = new Set([...(own.labelNames ?? []), ...COMMON_LABELS]);
      const names =
        String(metric.type) === 'histogram' ? ['_bucket', '_sum', '_count'].map((s) => metric.name + s) : [metric.name];
      for (const name of names) series.set(name, name.endsWith('_bucket') ? new Set([...labels, 'le']) : labels);
    }
  }
  return { series };
}

interface Query {
  where: string;
  expr: string;
}

interface Panel {
  type: string;
  title: string;
  datasource?: { uid?: string };
  targets?: Array<{ expr: string; datasource?: { uid?: string } }>;
}

function dashboard(): { panels: Panel[] } {
  return JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as { panels: Panel[] };
}

function dashboardQueries(): Query[] {
  return dashboard().panels.flatMap((p) =>
    (p.targets ?? []).map((t) => ({ where: `panel "${p.title}"`, expr: t.expr })),
  );
}

interface AlertRule {
  alert: string;
  expr: string;
  labels?: { severity?: string };
}

function alertRules(): AlertRule[] {
  const doc = yaml.load(readFileSync(join(PROMETHEUS_DIR, 'alerts.yml'), 'utf8')) as {
    groups: Array<{ rules: AlertRule[] }>;
  };
  return doc.groups.flatMap((g) => g.rules);
}

/** Problems with one query: unknown series, labels a series lacks, grouping by labels none of its series has. */
function problemsOf(q: Query, exported: Exported): string[] {
  const { metrics, groupingLabels } = promqlNames(q.expr);
  const problems: string[] = [];
  if (metrics.length === 0) problems.push(`${q.where}: selects no metric: ${q.expr}`);
  const available = new Set<string>(COMMON_LABELS);
  for (const m of metrics) {
    if (SCRAPE_SERIES.has(m.name)) continue;
    const labels = exported.series.get(m.name);
    if (!labels) {
      problems.push(`${q.where}: ${m.name} is not a metric any service exports`);
      continue;
    }
    for (const l of labels) available.add(l);
    for (const l of m.matchedLabels) if (!labels.has(l)) problems.push(`${q.where}: ${m.name} has no label ${l}`);
  }
  for (const l of groupingLabels)
    if (!available.has(l)) problems.push(`${q.where}: groups by ${l}, which none of its metrics has`);
  return problems;
}

function hasPromtool(): boolean {
  return spawnSync('promtool', ['--version'], { stdio: 'ignore' }).status === 0;
}

describe('dashboards and alerts (infra/grafana, infra/prometheus)', function () {
  let exported: Exported;

  before(async function () {
    exported = await exportedSeries();
  });

  it('reads the PromQL names it should (the checker itself)', function () {
    const read = promqlNames(
      'sum by (reason) (increase(openai_connect_failures_total{reason!~"X"}[$__rate_interval])) / clamp_min(sum(up{job="a"}), 1) > 0.05',
    );
    expect(read.metrics).to.deep.equal([
      { name: 'openai_connect_failures_total', matchedLabels: ['reason'] },
      { name: 'up', matchedLabels: ['job'] },
    ]);
    expect(read.groupingLabels).to.deep.equal(['reason']);
    expect(problemsOf({ where: 'x', expr: 'sum(rate(no_such_metric_total[5m]))' }, exported)).to.have.length(1);
    expect(
      problemsOf({ where: 'x', expr: 'sum by (reasn) (rate(realtime_fallbacks_total[5m]))' }, exported),
    ).to.have.length(1);
    expect(problemsOf({ where: 'x', expr: 'gateway_stream_no_start_total{known="true"}' }, exported)).to.have.length(1);
  });

  it('alert rules use only exported metrics and their labels', function () {
    const rules = alertRules();
    expect(rules.length).to.be.greaterThan(0);
    expect(rules.flatMap((r) => problemsOf({ where: `alert ${r.alert}`, expr: r.expr }, exported))).to.deep.equal([]);
    for (const r of rules) expect(['page', 'ticket'], `${r.alert} severity`).to.include(r.labels?.severity);
  });

  it('dashboard queries use only exported metrics and their labels, on the provisioned datasource', function () {
    const queries = dashboardQueries();
    expect(queries.length).to.be.greaterThan(0);
    expect(queries.flatMap((q) => problemsOf(q, exported))).to.deep.equal([]);
    const ds = yaml.load(readFileSync(DATASOURCE_FILE, 'utf8')) as { datasources: Array<{ uid: string }> };
    const uids = new Set(ds.datasources.map((d) => d.uid));
    for (const p of dashboard().panels.filter((x) => x.type !== 'row')) {
      expect(uids, `panel "${p.title}" datasource`).to.include(p.datasource?.uid);
    }
  });

  it('the dashboard covers calls, greeting p50/p95, fallbacks and silent failures, no-START and ghosts, model connect, bridge capacity and link health', function () {
    const exprs = dashboardQueries().map((q) => q.expr);
    const uses = (metric: string, extra: RegExp = /./) =>
      exprs.some((e) => promqlNames(e).metrics.some((m) => m.name === metric) && extra.test(e));
    const areas: Record<string, boolean> = {
      'calls started': uses('gateway_streams_started_total'),
      'live calls': uses('bridge_calls_active'),
      'greeting p50': uses('first_greeting_audio_ms_bucket', /histogram_quantile\(0\.5,/),
      'greeting p95': uses('first_greeting_audio_ms_bucket', /histogram_quantile\(0\.95,/),
      'fallbacks by reason': uses('realtime_fallbacks_total', /by \(reason\)/),
      'silent failures': uses('call_silent_failures_total'),
      'no START': uses('gateway_stream_no_start_total') && uses('webhook_stream_never_started_total'),
      ghosts: uses('gateway_ghost_sockets_total'),
      'model connect failures by reason': uses('openai_connect_failures_total', /by \(reason\)/),
      'model connect retries': uses('openai_connect_retries_total'),
      'bridge load and capacity': uses('bridge_load') && uses('bridge_capacity'),
      'link health':
        uses('media_link_open') && uses('media_link_closed_total') && uses('media_link_dial_failures_total'),
    };
    expect(
      Object.entries(areas)
        .filter(([, covered]) => !covered)
        .map(([area]) => area),
    ).to.deep.equal([]);
  });

  it('alerts page on silent failures, fallbacks, slow greetings, no capacity, model connect failures, dead services and the media link', function () {
    const paging = alertRules().filter((r) => r.labels?.severity === 'page');
    const pages = (metric: string) => paging.some((r) => promqlNames(r.expr).metrics.some((m) => m.name === metric));
    const missing = [
      'call_silent_failures_total',
      'realtime_fallbacks_total',
      'first_greeting_audio_ms_bucket',
      'gateway_no_capacity_total',
      'openai_connect_failures_total',
      'up',
      'media_link_dial_failures_total',
      'gateway_stream_no_start_total',
    ].filter((m) => !pages(m));
    expect(missing).to.deep.equal([]);
  });

  describe('with promtool', function () {
    before(function () {
      if (!hasPromtool()) this.skip(); // .ci/run installs it (Debian's prometheus package)
    });

    it('the alert rules and the Prometheus config pass promtool check', function () {
      execFileSync('promtool', ['check', 'rules', 'alerts.yml'], { cwd: PROMETHEUS_DIR, stdio: 'pipe' });
      execFileSync('promtool', ['check', 'config', 'prometheus.yml'], { cwd: PROMETHEUS_DIR, stdio: 'pipe' });
    });

    it('the alert unit tests pass (promtool test rules)', function () {
      execFileSync('promtool', ['test', 'rules', 'alerts.test.yml'], { cwd: PROMETHEUS_DIR, stdio: 'pipe' });
    });

    it('every dashboard query parses (as a recording rule for promtool)', function () {
      const dir = mkdtempSync(join(tmpdir(), 'voice-dashboard-rules-'));
      try {
        const rules = dashboardQueries().map((q, i) => ({
          record: `dashboard:query_${i}`,
          expr: q.expr.replaceAll('$__rate_interval', RATE_INTERVAL_FOR_CHECK),
        }));
        writeFileSync(join(dir, 'dashboard-rules.yml'), JSON.stringify({ groups: [{ name: 'dashboard', rules }] }));
        const out = spawnSync('promtool', ['check', 'rules', 'dashboard-rules.yml'], { cwd: dir, encoding: 'utf8' });
        expect(out.status, `${out.stdout}${out.stderr}`).to.equal(0);
        expect(out.stdout).to.include(`SUCCESS: ${rules.length} rules found`);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
