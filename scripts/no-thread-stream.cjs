// Stands in for thread-stream in dist/bundle/{daemon,cli}.cjs (scripts/bundle.mjs): pino requires it at load for its
// transports (worker threads started from files by path), which the sidecar does not use.
module.exports = function ThreadStream() {
  throw new Error('pino transports are not available in the sidecar bundle');
};
