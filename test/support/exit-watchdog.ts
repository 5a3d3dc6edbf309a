/**
 * Mocha runs without --exit on purpose: a socket or timer a test forgot to
 * close then shows up as a run that does not end. On CI that is a hang until
 * the job's time limit, with no word of why. So after the last test the
 * process gets EXIT_GRACE_MS to end on its own; if something still holds it
 * open, this names what (Node's active resources) and exits with mocha's own
 * result, which mocha sets on 'exit'.
 *
 * Loaded for every run by .mocharc.cjs (`require`).
 */
const EXIT_GRACE_MS = 20_000;

export const mochaHooks = {
  afterAll(): void {
    setTimeout(() => {
      const held = process
        .getActiveResourcesInfo()
        .filter((kind) => kind !== 'TTYWrap')
        .reduce<Record<string, number>>((counts, kind) => ({ ...counts, [kind]: (counts[kind] ?? 0) + 1 }), {});
      process.stderr.write(
        `[exit-watchdog] the suite ended ${EXIT_GRACE_MS / 1000} s ago but the process is still held open by ` +
          `${JSON.stringify(held)}: a test left something running. Exiting with mocha's result.\n`,
      );
      process.exit();
    }, EXIT_GRACE_MS).unref();
  },
};
