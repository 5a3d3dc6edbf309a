/**
 * Runs the Realtime double as its own process (for `npm run demo` and the
 * bench). Prints one JSON line when listening:
 *   {"event":"ready","baseURL":"https://127.0.0.1:PORT/v1","certPath":"…"}
 * Clients trust it with NODE_EXTRA_CA_CERTS=<certPath>. SIGTERM or SIGINT
 * stops it cleanly (sessions get close 1001) and prints {"event":"stopped"}.
 *
 *   node --conditions=source --import tsx packages/testkit/src/realtime-double/cli.ts \
 *     --port 0 --api-key sk-local --first-audio-delay-ms 400
 */
import { parseArgs } from 'node:util';
import type { RealtimeDoubleBehaviour } from './behaviour.js';
import { DEFAULT_HOST } from './constants.js';
import { RealtimeDouble } from './server.js';
import { synthesizeMulaw } from '../audio/speech.js';

const WARM_UP_PHRASE = 'Ready.';

const DEFAULT_CLI_API_KEY = 'sk-realtime-double';
const EXIT_USAGE = 2;
const EXIT_FAILURE = 1;

const USAGE = `Usage: cli.ts [--port N] [--host H] [--api-key KEY] [--tls-dir DIR]
  [--connect-delay-ms N] [--first-audio-delay-ms N] [--realtime-factor X] [--delta-ms N]
  [--greeting-text TEXT] [--max-session-ms N] [--prerender TEXT]...`;

class CliUsageError extends Error {
  override name = 'CliUsageError';
}

function numberFlag(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new CliUsageError(`--${name} must be a non-negative number, got '${value}'`);
  return n;
}

function parseCli(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      'api-key': { type: 'string' },
      'tls-dir': { type: 'string' },
      'connect-delay-ms': { type: 'string' },
      'first-audio-delay-ms': { type: 'string' },
      'realtime-factor': { type: 'string' },
      'delta-ms': { type: 'string' },
      'greeting-text': { type: 'string' },
      'max-session-ms': { type: 'string' },
      prerender: { type: 'string', multiple: true },
      help: { type: 'boolean' },
    },
  });
  const behaviour: Partial<RealtimeDoubleBehaviour> = {};
  const set = <K extends keyof RealtimeDoubleBehaviour>(key: K, value: RealtimeDoubleBehaviour[K] | undefined) => {
    if (value !== undefined) behaviour[key] = value;
  };
  set('connectDelayMs', numberFlag('connect-delay-ms', values['connect-delay-ms']));
  set('firstAudioDelayMs', numberFlag('first-audio-delay-ms', values['first-audio-delay-ms']));
  set('realtimeFactor', numberFlag('realtime-factor', values['realtime-factor']));
  set('deltaMs', numberFlag('delta-ms', values['delta-ms']));
  set('maxSessionMs', numberFlag('max-session-ms', values['max-session-ms']));
  set('greetingText', values['greeting-text']);
  return {
    help: values.help ?? false,
    port: numberFlag('port', values.port) ?? 0,
    host: values.host ?? DEFAULT_HOST,
    apiKey: values['api-key'] ?? DEFAULT_CLI_API_KEY,
    tlsDir: values['tls-dir'],
    /** Phrases to synthesize before saying ready (a demo's greeting), as a real model has no render time to speak of. */
    prerender: values.prerender ?? [],
    behaviour,
  };
}

async function main(): Promise<void> {
  let args: ReturnType<typeof parseCli>;
  try {
    args = parseCli(process.argv.slice(2));
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    process.exit(EXIT_USAGE);
  }
  if (args.help) {
    console.log(USAGE);
    return;
  }
  const double = new RealtimeDouble({
    apiKey: args.apiKey,
    host: args.host,
    port: args.port,
    behaviour: args.behaviour,
    ...(args.tlsDir ? { tlsDir: args.tlsDir } : {}),
  });
  await double.start();
  // The speech engine (WASM) compiles on first use, ~1 s: pay it here, not in the first call's
  // greeting, which the real API would not make wait.
  for (const phrase of [WARM_UP_PHRASE, ...args.prerender]) await synthesizeMulaw(phrase);
  console.log(
    JSON.stringify({ event: 'ready', baseURL: double.baseURL, certPath: double.certPath, port: double.port }),
  );

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    double.stop().then(
      () => {
        console.log(JSON.stringify({ event: 'stopped', signal, sessions: double.sessions.length }));
        process.exitCode = 0;
      },
      (err: unknown) => {
        console.error(JSON.stringify({ event: 'stop_failed', error: String(err) }));
        process.exitCode = EXIT_FAILURE;
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  console.error(JSON.stringify({ event: 'failed', error: err instanceof Error ? err.message : String(err) }));
  process.exit(EXIT_FAILURE);
});
