#!/usr/bin/env node
// `npm test`: the whole mocha suite against the Redis at REDIS_URL and the
// Postgres at DATABASE_URL. Arguments go to mocha; with no spec files given,
// every test in the repo runs. Examples:
//   npm test -- apps/webhook/test/voice-webhook.test.ts
//   npm test -- --grep barge
import { spawnSync } from 'node:child_process';

const ALL_SPECS = ['packages/*/test/**/*.test.ts', 'apps/*/test/**/*.test.ts', 'test/**/*.test.ts'];

const args = process.argv.slice(2);
const hasSpec = args.some((a) => a.endsWith('.ts') || a.includes('/'));
const result = spawnSync('npx', ['mocha', ...args, ...(hasSpec ? [] : ALL_SPECS)], { stdio: 'inherit' });
process.exit(result.status ?? 1);
