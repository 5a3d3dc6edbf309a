/**
 * .env.example against the code: exactly the variables the config.ts files
 * read (plus documented extras), REQUIRED marks where the code requires, and
 * each default shown equal to the code's.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ENV_FILE, EXTRAS, type CheckContext } from './context.js';
import { list, sorted } from './report.js';

export interface EnvEntry {
  name: string;
  value: string;
  commented: boolean;
  line: number;
  /** The comment lines right above it, joined. */
  comment: string;
}

export function readEnvExample(root: string): EnvEntry[] {
  const entries: EnvEntry[] = [];
  let comment: string[] = [];
  readFileSync(join(root, ENV_FILE), 'utf8')
    .split('\n')
    .forEach((line, i) => {
      const m = /^(#\s?)?([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
      if (m) {
        entries.push({ name: m[2]!, value: m[3]!, commented: Boolean(m[1]), line: i + 1, comment: comment.join(' ') });
        comment = [];
      } else if (line.startsWith('#')) comment.push(line.replace(/^#\s?/, ''));
      else comment = [];
    });
  return entries;
}

export function checkEnvExample(ctx: CheckContext): void {
  const { report, entries, envNames, configKeys, services } = ctx;
  const seen = new Set<string>();
  for (const e of entries) {
    if (seen.has(e.name)) report.fail(`${ENV_FILE}:${e.line}: ${e.name} is listed twice`);
    seen.add(e.name);
  }
  const unknown = sorted(envNames).filter((n) => !configKeys.has(n) && !(n in EXTRAS));
  if (unknown.length)
    report.fail(
      `${ENV_FILE} lists variables no apps/*/src/config.ts reads and not documented extras: ${unknown.join(', ')}`,
    );
  else
    report.ok(
      `every variable in ${ENV_FILE} (${envNames.size}) is read by a config.ts or is a documented extra (${Object.keys(EXTRAS).join(', ')})`,
    );
  const missing = sorted(configKeys).filter((k) => !envNames.has(k));
  if (missing.length) report.fail(`${ENV_FILE} is missing variables read by config.ts: ${missing.join(', ')}`);
  else report.ok(`every variable read by the config.ts files (${configKeys.size}) is in ${ENV_FILE}`);
  for (const extra of Object.keys(EXTRAS)) {
    if (!envNames.has(extra)) report.fail(`${ENV_FILE} should document ${extra} (${EXTRAS[extra]})`);
  }

  const requiredAnywhere = new Set(services.flatMap((s) => [...s.required]));
  for (const e of entries) {
    const where = `${ENV_FILE}:${e.line} ${e.name}`;
    if (requiredAnywhere.has(e.name)) {
      if (e.commented || !/^REQUIRED\b/.test(e.comment))
        report.fail(`${where} is required: it must be uncommented with a comment starting "REQUIRED"`);
    } else {
      if (!e.commented) report.fail(`${where} has a default (or is optional): it must be commented out`);
      if (/\bREQUIRED\b/.test(e.comment)) report.fail(`${where} is marked REQUIRED but the code does not require it`);
    }
    if (!e.comment) report.fail(`${where} has no comment line above it`);
  }
  report.ok(`${ENV_FILE}: REQUIRED marks match the code (${list(requiredAnywhere)})`);

  // The value shown for a defaulted variable must be the code's default: loading
  // the config with that value set must give the same result as leaving it unset.
  let checked = 0;
  for (const e of entries) {
    if (!e.commented || e.value === '' || !configKeys.has(e.name)) continue;
    const readers = ctx.readersOf(e.name);
    const differs: string[] = [];
    for (const s of readers) {
      let same: boolean;
      try {
        same = JSON.stringify(s.load({ ...s.base, [e.name]: e.value })) === JSON.stringify(s.defaults);
      } catch {
        same = false;
      }
      if (!same) differs.push(s.name);
    }
    checked++;
    if (differs.length === readers.length)
      report.fail(`${ENV_FILE}:${e.line} ${e.name}=${e.value} is not the default in ${differs.join(', ')}`);
    else if (differs.length && !/differ/.test(e.comment)) {
      report.fail(
        `${ENV_FILE}:${e.line} ${e.name}=${e.value} is not the default in ${differs.join(', ')}, and its comment does not say the defaults differ`,
      );
    }
  }
  report.ok(
    `${ENV_FILE}: the ${checked} defaults shown equal the code's (loading the config with each one changes nothing)`,
  );
}
