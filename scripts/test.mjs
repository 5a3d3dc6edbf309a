#!/usr/bin/env node
// `npm test`: the whole mocha suite. Extra arguments go to mocha, e.g.
// `npm test -- apps/webhook/test/voice-webhook.test.ts` or `npm test -- --grep barge`.
import { spawnSync } from 'node:child_process';

const args = process.argv.slice(2);
const result = spawnSync('npx', ['mocha', ...args], { stdio: 'inherit' });
process.exit(result.status ?? 1);
