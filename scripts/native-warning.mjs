// The install script's fallback when `node-gyp rebuild` fails (no compiler, no Node headers, not
// Linux): the native addon is optional, so say what is off and let the install succeed.
console.warn(
  [
    'netspan: the native addon (build/Release/netspan_native.node) could not be built.',
    'netspan works without it; off until it is built: Cross-Layer Telemetry (IPv6 Hop-by-Hop IOAM on',
    "outgoing sockets) and the kernel's IOAM event source. To build it: Linux, python3, make, a C",
    'compiler (g++ links it) and Node headers, then `npm rebuild netspan` (`npm run install` in a checkout).',
  ].join('\n'),
);
process.exitCode = 0;
