// Mocha runs the TypeScript sources directly: tsx compiles on the fly and the
// `source` export condition makes @voice/* packages resolve to their src/.
module.exports = {
  'node-option': ['conditions=source', 'import=tsx'],
  extension: ['ts'],
  timeout: 30000,
  exit: false,
};
