/**
 * Just enough PromQL reading to check names against the services' registries:
 * which metric names an expression selects, with the labels it matches on
 * each, and the labels it groups by. Not a parser: promtool checks syntax.
 */

/** PromQL words that look like metric names: operators, and aggregations (`sum by (x) (…)` has no paren after `sum`). */
const KEYWORDS = new Set([
  ...[
    'by',
    'without',
    'on',
    'ignoring',
    'group_left',
    'group_right',
    'and',
    'or',
    'unless',
    'bool',
    'offset',
    'inf',
    'nan',
  ],
  ...['sum', 'min', 'max', 'avg', 'count', 'stddev', 'stdvar', 'topk', 'bottomk', 'quantile', 'count_values', 'group'],
]);

export interface SelectedMetric {
  name: string;
  /** Label names in its {…} matcher. */
  matchedLabels: string[];
}

export interface PromqlNames {
  metrics: SelectedMetric[];
  /** Label names in by (…) / without (…) / on (…) / ignoring (…) clauses. */
  groupingLabels: string[];
}

const IDENT = /[a-zA-Z_:][a-zA-Z0-9_:]*/y;

export function promqlNames(expr: string): PromqlNames {
  // Strings, range/subquery brackets and Grafana's $variables never hold a metric name.
  const text = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/\$\w+/g, '');
  const metrics: SelectedMetric[] = [];
  const groupingLabels: string[] = [];
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    if (/[0-9.]/.test(ch) && !/[a-zA-Z_:]/.test(text[i - 1] ?? '')) {
      // A number (0.95, 1e3, 5m-less durations are gone with the brackets).
      i = skip(text, i, /[0-9.eE+x]/);
      continue;
    }
    IDENT.lastIndex = i;
    const m = IDENT.exec(text);
    if (!m) {
      i++;
      continue;
    }
    const word = m[0];
    i += word.length;
    const rest = text.slice(i).trimStart();
    if (['by', 'without', 'on', 'ignoring', 'group_left', 'group_right'].includes(word) && rest.startsWith('(')) {
      const close = rest.indexOf(')');
      groupingLabels.push(...labelList(rest.slice(1, close)));
      i = text.length - rest.length + close + 1;
      continue;
    }
    if (rest.startsWith('(') || KEYWORDS.has(word.toLowerCase())) continue; // a function or an operator word
    let matchedLabels: string[] = [];
    if (rest.startsWith('{')) {
      const close = rest.indexOf('}');
      matchedLabels = [...rest.slice(1, close).matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)].map(
        (x) => x[1]!,
      );
      i = text.length - rest.length + close + 1;
    }
    metrics.push({ name: word, matchedLabels });
  }
  return { metrics, groupingLabels };
}

function labelList(inside: string): string[] {
  return inside
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

function skip(text: string, from: number, re: RegExp): number {
  let i = from;
  while (i < text.length && re.test(text[i]!)) i++;
  return i;
}
