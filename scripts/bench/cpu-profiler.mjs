// Preloaded into a service by `npm run bench -- --cpu-prof` (NODE_OPTIONS=--import=<this file>):
// Node 20 refuses --cpu-prof in NODE_OPTIONS, so this starts the V8 sampling profiler
// through the inspector and writes a .cpuprofile (open it in Chrome DevTools or speedscope)
// to BENCH_CPU_PROF_DIR when the process exits.
import { Session } from 'node:inspector';
import { writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';

const dir = process.env.BENCH_CPU_PROF_DIR;

/** apps/media-gateway/src/main.ts -> media-gateway; scripts/bench/direct-bridge.ts -> direct-bridge. */
function serviceName() {
  const entry = process.argv[1] ?? 'node';
  return /apps\/([^/]+)\//.exec(entry)?.[1] ?? basename(entry).replace(/\.[cm]?[jt]s$/, '');
}
if (dir) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.start');
  process.once('exit', () => {
    // The in-process inspector session answers synchronously, so this completes before exit.
    session.post('Profiler.stop', (err, result) => {
      if (err || !result) return;
      writeFileSync(join(dir, `${serviceName()}-${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
  });
}
