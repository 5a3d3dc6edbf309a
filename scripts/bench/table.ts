/**
 * The one table `npm run bench` prints: a section per call count, a column per
 * set-up (system with warm sessions, system cold, direct bridge) and a last
 * column with the issue's target and whether it was met.
 */
import { SERVICE_NICENESS, type BenchFlags, type PathName } from './flags.js';
import type { Percentiles } from './histogram.js';
import { GREETING_POINTS, LATENCY_POINTS, type ScenarioReport } from './report.js';
import type { AdmissionResult } from './admission.js';
import type { LinkMicroResult } from './link-micro.js';
import { floorRatio, type FloorResult } from './floor.js';
import { floorBudget, type FloorBudget } from './floor-budget.js';
import type { OutboundResult } from './outbound.js';

const TARGETS = {
  warmGreetingP95Ms: 150,
  coldGreetingSlackMs: 100,
  addedP50Ms: 1,
  addedP99Ms: 10,
  addedAtCalls: 50,
  lossFreeAtCalls: 200,
  cpuRatio: 1.5,
  redisKbPerLiveCall: 200,
  redisCommandsPerCallSecond: 2,
  busyHeardWithinMs: 2000,
} as const;

/** Below this many calls, memory per live call is judged on the call's own keys (MEMORY USAGE), not used_memory. */
const MIN_CALLS_FOR_MEMORY = 10;
const BYTES_PER_KB = 1024;

function keysKb(r: ScenarioReport): number {
  return Object.values(r.redis?.liveKeyBytes ?? {}).reduce((a, b) => a + b, 0) / BYTES_PER_KB;
}

const COLUMN_TITLES: Record<PathName, string> = { warm: 'system warm', cold: 'system cold', direct: 'direct bridge' };
const LABEL_WIDTH = 42;
const CELL_WIDTH = 22;

type Cell = string;
interface Row {
  label: string;
  cells: Partial<Record<PathName, Cell>>;
  target?: string;
}

function num(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '-';
  const abs = Math.abs(ms);
  return abs < 10 ? ms.toFixed(2) : abs < 100 ? ms.toFixed(1) : ms.toFixed(0);
}

function signed(ms: number | undefined): string {
  return ms === undefined ? '-' : `${ms >= 0 ? '+' : ''}${num(ms)}`;
}

function triple(p: Percentiles | undefined, points: readonly number[]): Cell {
  if (!p || p.count === 0) return '-';
  return points.map((pt) => num(p.ms[pt])).join('/');
}

const verdict = (ok: boolean | undefined) => (ok === undefined ? 'n/a' : ok ? 'ok' : 'MISS');

function greetingCell(r: ScenarioReport): Cell {
  const own = r.path === 'direct' ? r.greeting.direct : r.path === 'warm' ? r.greeting.warm : r.greeting.cold;
  if (own) {
    const cold = r.path === 'warm' ? (r.greeting.cold?.count ?? 0) : 0;
    return `${triple(own, GREETING_POINTS)} (${own.count}${cold > 0 ? ` +${cold} cold` : ''})`;
  }
  // A warm set-up whose calls all took the cold path (no greeting_path=warm in call.metrics).
  if (r.path === 'warm' && r.greeting.cold) return `cold ${triple(r.greeting.cold, GREETING_POINTS)}`;
  return '-';
}

function sectionRows(reports: ScenarioReport[], flags: BenchFlags): Row[] {
  const at = (path: PathName) => reports.find((r) => r.path === path);
  const each = (f: (r: ScenarioReport) => Cell) =>
    Object.fromEntries(reports.map((r) => [r.path, f(r)])) as Partial<Record<PathName, Cell>>;
  const calls = reports[0]!.calls;
  const systems = reports.filter((r) => r.path !== 'direct');
  const coldLimit = flags.connectDelayMs + flags.firstAudioDelayMs + TARGETS.coldGreetingSlackMs;
  const warm = at('warm')?.greeting.warm;
  const cold = at('cold')?.greeting.cold ?? at('warm')?.greeting.cold;
  /** One verdict per system set-up ("warm ok, cold MISS"), or one word when only one ran. */
  const perSystem = (ok: (r: ScenarioReport) => boolean | undefined): string => {
    const verdicts = systems.map((r) => ({ path: r.path, v: verdict(ok(r)) }));
    if (verdicts.length === 0) return 'n/a';
    if (verdicts.every((x) => x.v === verdicts[0]!.v)) return verdicts[0]!.v;
    return verdicts.map((x) => `${x.path} ${x.v}`).join(', ');
  };
  const addedOk = (key: 'callerToModel' | 'modelToCaller') => (r: ScenarioReport) => {
    const a = r[key].addedMs;
    return a && (a[50] ?? Infinity) <= TARGETS.addedP50Ms && (a[99] ?? Infinity) <= TARGETS.addedP99Ms;
  };
  const lossOk = (r: ScenarioReport) =>
    r.callerToModel.counts.lost +
      r.callerToModel.counts.reordered +
      r.modelToCaller.counts.lost +
      r.modelToCaller.counts.reordered ===
    0;
  const cpuOk = (r: ScenarioReport) =>
    r.cpu.ratioWithRedisVsDirect === undefined ? undefined : r.cpu.ratioWithRedisVsDirect <= TARGETS.cpuRatio;
  // With a handful of calls, used_memory moves more with Redis's own one-time allocations than with the calls.
  const redisKb = (r: ScenarioReport) =>
    calls >= MIN_CALLS_FOR_MEMORY ? r.redis?.kbPerLiveCall : r.redis && keysKb(r);
  const redisOk = (r: ScenarioReport) => {
    const kb = redisKb(r);
    return kb === undefined ? undefined : kb <= TARGETS.redisKbPerLiveCall;
  };
  const leftoversOk = (r: ScenarioReport) => (r.redis ? r.redis.leftoverKeys === 0 : undefined);
  const addedTarget = (key: 'callerToModel' | 'modelToCaller') =>
    `p50<=+${TARGETS.addedP50Ms} p99<=+${TARGETS.addedP99Ms}${calls === TARGETS.addedAtCalls ? '' : ' (target @50)'}: ${perSystem(addedOk(key))}`;
  const cpuRow = (name: string, label: string): Row => ({
    label: `  ${label}`,
    cells: each((r) => num(r.cpu.perCallMinute[name])),
  });
  const groups = [...new Set(reports.flatMap((r) => Object.keys(r.peakRssMiB)))];

  return [
    {
      label: 'greeting after START ms p50/p95/p99 (n)',
      cells: each(greetingCell),
      target: `warm p95<=${TARGETS.warmGreetingP95Ms}: ${verdict(warm && (warm.ms[95] ?? Infinity) <= TARGETS.warmGreetingP95Ms)}; cold p95<=${coldLimit}: ${verdict(cold && (cold.ms[95] ?? Infinity) <= coldLimit)}`,
    },
    {
      label: 'caller->model latency ms p50/p99/p99.9',
      cells: each((r) => triple(r.callerToModel.latency, LATENCY_POINTS)),
    },
    {
      label: 'model->caller latency ms p50/p99/p99.9',
      cells: each((r) => triple(r.modelToCaller.latency, LATENCY_POINTS)),
    },
    {
      label: 'added vs direct, caller->model ms',
      cells: each((r) =>
        r.callerToModel.addedMs ? LATENCY_POINTS.map((p) => signed(r.callerToModel.addedMs![p])).join('/') : '',
      ),
      target: addedTarget('callerToModel'),
    },
    {
      label: 'added vs direct, model->caller ms',
      cells: each((r) =>
        r.modelToCaller.addedMs ? LATENCY_POINTS.map((p) => signed(r.modelToCaller.addedMs![p])).join('/') : '',
      ),
      target: addedTarget('modelToCaller'),
    },
    {
      label: 'caller->model frames lost/dup/reord',
      cells: each(
        (r) =>
          `${r.callerToModel.counts.lost}/${r.callerToModel.counts.duplicated}/${r.callerToModel.counts.reordered} of ${r.callerToModel.counts.frames}`,
      ),
      target: `0 lost, 0 reordered${calls === TARGETS.lossFreeAtCalls ? '' : ' (target @200)'}: ${perSystem(lossOk)}`,
    },
    {
      label: 'model->caller deltas lost/dup/reord',
      cells: each(
        (r) =>
          `${r.modelToCaller.counts.lost}/${r.modelToCaller.counts.duplicated}/${r.modelToCaller.counts.reordered} of ${r.modelToCaller.counts.frames}`,
      ),
    },
    {
      label: 'cross-talk (audio on the wrong call)',
      cells: each((r) => `${r.callerToModel.counts.crossTalk}/${r.modelToCaller.counts.crossTalk}`),
      target: 'must be 0/0',
    },
    { label: 'CPU s per call-minute', cells: {} },
    ...groups.filter((g) => g !== 'bench (doubles)').map((g) => cpuRow(g, g)),
    {
      label: '  Redis server',
      cells: each((r) => (r.cpu.redisPerCallMinute === undefined ? '' : num(r.cpu.redisPerCallMinute))),
    },
    {
      label: '  total (services + Redis)',
      cells: each((r) => num(r.cpu.servicesPerCallMinute + (r.cpu.redisPerCallMinute ?? 0))),
    },
    {
      label: '  ratio vs direct (services / +Redis)',
      cells: each((r) =>
        r.cpu.ratioVsDirect === undefined ? '' : `${num(r.cpu.ratioVsDirect)}x / ${num(r.cpu.ratioWithRedisVsDirect)}x`,
      ),
      target: `<=${TARGETS.cpuRatio}x (with Redis): ${perSystem(cpuOk)}`,
    },
    {
      label: '  steady state only: total / ratio',
      cells: each((r) => {
        const st = r.cpu.steady;
        if (!st) return '-';
        const total = num(st.servicesPerCallMinute + (st.redisPerCallMinute ?? 0));
        return st.ratioWithRedisVsDirect === undefined ? total : `${total} / ${num(st.ratioWithRedisVsDirect)}x`;
      }),
    },
    {
      label: '  idle set-up (no calls), % of a core',
      cells: each(
        (r) =>
          `${num(r.cpu.idle.servicesCores * 100)}${r.path === 'direct' ? '' : ` + Redis ${num(r.cpu.idle.redisCores * 100)}`}`,
      ),
    },
    {
      label: '  per call beyond streaming, CPU ms',
      cells: each((r) => (r.cpu.steady ? r.cpu.steady.setupMsPerCall.toFixed(0) : '-')),
    },
    cpuRow('bench (doubles)', 'bench process (both doubles)'),
    { label: 'peak RSS MiB', cells: {} },
    ...groups.map((g) => ({ label: `  ${g}`, cells: each((r) => num(r.peakRssMiB[g])) })),
    { label: 'Redis commands per call', cells: each((r) => (r.redis ? r.redis.commandsPerCall.toFixed(0) : '')) },
    {
      label: 'Redis commands per call-second',
      cells: each((r) =>
        r.redis
          ? `${num(r.redis.commandsPerCall / r.durationS)} (live: ${num(r.redis.steadyCommandsPerCallSecond)})`
          : '',
      ),
      target: `<=${TARGETS.redisCommandsPerCallSecond}: ${perSystem((r) => (r.redis ? r.redis.commandsPerCall / r.durationS <= TARGETS.redisCommandsPerCallSecond : undefined))}`,
    },
    {
      label: 'Redis KB per live call (used_mem / keys)',
      cells: each((r) => (r.redis ? `${num(r.redis.kbPerLiveCall)} / ${num(keysKb(r))}` : '')),
      target: `<=${TARGETS.redisKbPerLiveCall}: ${perSystem(redisOk)}`,
    },
    {
      label: 'after end: leftover keys / KB per call',
      cells: each((r) => (r.redis ? `${r.redis.leftoverKeys} / ${num(r.redis.residualKbPerCall)}` : '')),
      target: `0 keys (timelines stay): ${perSystem(leftoversOk)}`,
    },
    {
      label: 'no greeting / abnormal end / warnings',
      cells: each((r) => `${r.callsWithoutGreeting} / ${r.health.abnormalEnds} / ${r.health.callerWarnings}`),
    },
    {
      label: 'bench: late ticks, loop lag p99/max ms',
      cells: each((r) => `${r.health.clockLateTicks}, ${num(r.health.benchLoopP99Ms)}/${num(r.health.benchLoopMaxMs)}`),
    },
    {
      label: 'host: cores used by others / stolen',
      cells: each((r) => `${num(r.health.otherLoadCores)} / ${num(r.health.stealCores)}`),
      target: 'should be ~0 (else numbers are disturbed)',
    },
  ];
}

function line(label: string, cells: string[], target: string): string {
  return `${label.padEnd(LABEL_WIDTH)}${cells.map((c) => c.padEnd(CELL_WIDTH)).join('')}${target}`.trimEnd();
}

function linkRows(link: LinkMicroResult): string[] {
  const label = `media link alone, ${link.calls} calls both ways`;
  return [
    line(label, [`${num(link.seconds)} s in its own process, harness subtracted`], ''),
    line('  link CPU s per call-minute (both ends)', [num(link.cpuPerCallMinute)], ''),
    line(
      '  one-way latency ms p50/p99/p99.9',
      [`${num(link.latencyMs.p50)}/${num(link.latencyMs.p99)}/${num(link.latencyMs.p999)}`],
      '',
    ),
    line('  frames through / lost', [`${link.frames} / ${link.lost}`], `0 lost: ${verdict(link.lost === 0)}`),
  ];
}

/**
 * The floor beside what the system measured in the same rounds: the bare relays' ratio is the
 * least any gateway + bridge pair could cost here; the system's steady-state ratio at the same
 * call count is the like-for-like figure (streaming only, no set-up).
 */
function floorRows(floor: FloorResult, reports: readonly ScenarioReport[]): string[] {
  const ratios = floor.runs.map(floorRatio);
  const floorMedian = ratios.length > 0 ? median(ratios) : undefined;
  const rows = [
    line(
      `floor of the shape, ${floor.calls} calls`,
      [`bare relays, audio only, each role its own process, ${floor.seconds} s per shape, once per round (floor.mjs)`],
      '',
    ),
    line(
      '  cores: one process / gateway + bridge',
      [floor.runs.map((m) => `${m.directCores.toFixed(3)}/${m.splitCores.toFixed(3)}`).join(' ')],
      '',
    ),
    line(
      '  ratio, per round and median',
      [ratios.map(times).join(' '), floorMedian === undefined ? '-' : times(floorMedian)],
      floorMedian === undefined
        ? ''
        : `goal <=${TARGETS.cpuRatio}x is ${floorMedian > TARGETS.cpuRatio ? 'under' : 'above'} this floor`,
    ),
  ];
  for (const error of floor.errors) rows.push(line('  not measured in a round', [error], ''));
  for (const path of ['warm', 'cold'] as const) {
    const steady = reports
      .filter((r) => r.path === path && r.calls === floor.calls)
      .sort((a, b) => a.round - b.round)
      .map((r) => r.cpu.steady?.ratioWithRedisVsDirect)
      .filter((v): v is number => v !== undefined);
    if (steady.length > 0)
      rows.push(
        line(`  system ${path}, steady state, same calls`, [steady.map(times).join(' '), times(median(steady))], ''),
      );
  }
  rows.push(...budgetRows(floor, reports));
  return rows;
}

/** The floor with the system's set-up added, per round (floor-budget.ts): is the goal in reach at this call length? */
function budgetRows(floor: FloorResult, reports: readonly ScenarioReport[]): string[] {
  const rows: string[] = [];
  const at = (path: string, round: number) =>
    reports.find((r) => r.path === path && r.calls === floor.calls && r.round === round);
  for (const path of ['warm', 'cold'] as const) {
    const budgets = floor.runs
      .map((m) => {
        const system = at(path, m.round);
        const direct = at('direct', m.round);
        return system && direct ? floorBudget(floorRatio(m), system, direct, TARGETS.cpuRatio) : undefined;
      })
      .filter((b): b is FloorBudget => b !== undefined);
    if (budgets.length === 0) continue;
    const ratios = budgets.map((b) => b.ratioAtFloor);
    const best = median(ratios);
    rows.push(
      line(
        `  ${path}: floor streaming + its set-up`,
        [ratios.map(times).join(' '), times(best)],
        `<=${TARGETS.cpuRatio}x: ${best <= TARGETS.cpuRatio ? 'in reach' : 'out of reach at this call length'}`,
      ),
      line(
        `  ${path}: set-up CPU ms/call, had / room`,
        [budgets.map((b) => `${b.setupMs.toFixed(0)}/${Math.max(0, b.setupRoomMs).toFixed(0)}`).join(' ')],
        'room: what fits under the goal at the floor',
      ),
    );
  }
  return rows;
}

/** p50/p95 of a small sample, nearest rank (the outbound row has tens of calls, not thousands). */
function p50p95(values: readonly number[]): { p50: number | undefined; p95: number | undefined } {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
  return sorted.length === 0 ? { p50: undefined, p95: undefined } : { p50: at(50), p95: at(95) };
}

function outboundRows(o: OutboundResult): string[] {
  const start = p50p95(o.afterStartMs);
  const answer = p50p95(o.afterAnswerMs);
  const allGreeted = o.greeted === o.plan.calls && o.refused.length === 0;
  return [
    line(
      `outbound: ${o.plan.calls} calls via POST /calls`,
      [`answered by a person after ${o.plan.ringMs} ms ring, warm`],
      '',
    ),
    line(
      '  placed / greeted / refused',
      [`${o.placed} / ${o.greeted} / ${o.refused.length}`],
      `all greeted: ${verdict(allGreeted)}`,
    ),
    line(
      '  greeting after START ms p50/p95 (n)',
      [`${num(start.p50)}/${num(start.p95)} (${o.afterStartMs.length})`],
      `p95<=${TARGETS.warmGreetingP95Ms}: ${verdict(start.p95 === undefined ? undefined : start.p95 <= TARGETS.warmGreetingP95Ms)}`,
    ),
    line(
      '  greeting after answer ms p50/p95',
      [`${num(answer.p50)}/${num(answer.p95)}`],
      'webhook + stream open + START + greeting',
    ),
  ];
}

function admissionRows(a: AdmissionResult): string[] {
  const { perBridge, extra } = a.plan;
  const heard = [...a.busyHeardMs].sort((x, y) => x - y);
  const worst = heard.length > 0 ? heard[heard.length - 1] : undefined;
  const ok =
    a.greeted === 2 * perBridge &&
    a.busy === extra &&
    a.silent === 0 &&
    a.other === 0 &&
    worst !== undefined &&
    worst <= TARGETS.busyHeardWithinMs;
  return [
    line(`admission: 2x${perBridge} room, ${a.calls} calls`, ['greeted / busy / other / silent'], ''),
    line('  calls', [`${a.greeted} / ${a.busy} / ${a.other} / ${a.silent}`], `${2 * perBridge} / ${extra} / 0 / 0`),
    line(
      '  busy clip heard after START ms p50/max',
      [`${num(heard[Math.floor(heard.length / 2)])}/${num(worst)}`],
      `<=${TARGETS.busyHeardWithinMs}: ${verdict(ok)}`,
    ),
    line(
      '  most calls on one bridge',
      [String(a.maxPerBridge)],
      `<=${perBridge}: ${verdict(a.maxPerBridge <= perBridge)}`,
    ),
  ];
}

export function renderTable(
  run: {
    reports: ScenarioReport[];
    link?: LinkMicroResult;
    floor?: FloorResult;
    admission?: AdmissionResult;
    outbound?: OutboundResult;
  },
  flags: BenchFlags,
  machine: string,
): string {
  // The sections show round 1; further rounds add the CPU ratio per round below.
  const reports = run.reports.filter((r) => r.round === 1);
  const paths = flags.paths.filter((p) => reports.some((r) => r.path === p));
  const counts = [...new Set(reports.map((r) => r.calls))];
  const out: string[] = [
    `npm run bench: ${machine}; model double connect ${flags.connectDelayMs} ms, first audio ${flags.firstAudioDelayMs} ms after response.create, ` +
      `deltas at ${flags.realtimeFactor}x real time; START ${flags.startDelayMs} ms after the stream socket opens; ${flags.durationS} s per call; ` +
      `frame phases ${flags.phase}; ${flags.gateways} gateway(s), ${flags.bridges} bridge(s); ` +
      `${flags.runtime === 'build' ? 'services and direct bridge run compiled (node dist/main.js)' : 'services and direct bridge run from source (tsx)'}` +
      `${flags.renice ? `; services and Redis at nice ${SERVICE_NICENESS}, the bench (callers + model double) at 0` : ''}` +
      `${
        Object.keys(flags.serviceEnv).length > 0
          ? `; service env ${Object.entries(flags.serviceEnv)
              .map(([k, v]) => `${k}=${v}`)
              .join(' ')}`
          : ''
      }`,
  ];
  const width = LABEL_WIDTH + CELL_WIDTH * paths.length + 30;
  for (const calls of counts) {
    const section = paths
      .map((p) => reports.find((r) => r.calls === calls && r.path === p))
      .filter((r): r is ScenarioReport => r !== undefined);
    out.push('='.repeat(width));
    out.push(
      line(
        `${calls} concurrent call${calls === 1 ? '' : 's'}`,
        section.map((r) => COLUMN_TITLES[r.path]),
        'target',
      ),
    );
    out.push('-'.repeat(width));
    for (const row of sectionRows(section, flags)) {
      out.push(
        line(
          row.label,
          section.map((r) => row.cells[r.path] ?? ''),
          row.target ?? '',
        ),
      );
    }
  }
  out.push('='.repeat(width));
  if (flags.rounds > 1) out.push(...roundRows(run.reports, flags.rounds), '='.repeat(width));
  if (run.link) out.push(...linkRows(run.link), '='.repeat(width));
  if (run.floor) out.push(...floorRows(run.floor, run.reports), '='.repeat(width));
  if (run.admission) out.push(...admissionRows(run.admission), '='.repeat(width));
  if (run.outbound) out.push(...outboundRows(run.outbound), '='.repeat(width));
  return out.join('\n');
}

/**
 * The figures a drifting machine moves most, per round and their median: the CPU ratio (services
 * + Redis, whole call; each round pairs a set-up with its own direct run, in alternating order)
 * and the warm greeting's p95.
 */
function roundRows(all: readonly ScenarioReport[], rounds: number): string[] {
  const rows = [line(`by round (${rounds} rounds)`, ['per round', 'median'], 'target')];
  /** One figure of one set-up at `calls`, round by round, with its median against `limit`. */
  const row = (
    label: string,
    reports: readonly ScenarioReport[],
    pick: (r: ScenarioReport) => number | undefined,
    format: (x: number) => string,
    limit: { text: string; max: number },
  ) => {
    const values = [...reports]
      .sort((a, b) => a.round - b.round)
      .map(pick)
      .filter((x): x is number => x !== undefined);
    if (values.length === 0) return;
    const mid = median(values);
    rows.push(line(label, [values.map(format).join(' '), format(mid)], `${limit.text}: ${verdict(mid <= limit.max)}`));
  };
  for (const calls of new Set(all.map((r) => r.calls))) {
    const of = (path: PathName) => all.filter((r) => r.calls === calls && r.path === path);
    row(
      `  ${calls} calls, warm greeting p95 ms`,
      of('warm'),
      (r) => r.greeting.warm?.ms[95],
      (x) => x.toFixed(0),
      { text: `<=${TARGETS.warmGreetingP95Ms}`, max: TARGETS.warmGreetingP95Ms },
    );
    for (const path of ['warm', 'cold'] as const)
      row(`  ${calls} calls, CPU vs direct, ${path}`, of(path), (r) => r.cpu.ratioWithRedisVsDirect, times, {
        text: `<=${TARGETS.cpuRatio}x`,
        max: TARGETS.cpuRatio,
      });
  }
  return rows;
}

/** A CPU ratio as the tables print it. */
const times = (ratio: number): string => `${ratio.toFixed(2)}x`;

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
