// Mocha runs the TypeScript sources directly: tsx compiles on the fly and the
// `source` export condition makes @voice/* packages resolve to their src/.
module.exports = {
  'node-option': ['conditions=source', 'import=tsx'],
  extension: ['ts'],
  timeout: 30000,
  // No --exit: a leaked handle should be seen. test/support/exit-watchdog.ts names it and ends the run.
  exit: false,
  require: ['test/support/exit-watchdog.ts'],
};
