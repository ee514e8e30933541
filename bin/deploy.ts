#!/usr/bin/env node
// The `deploy` command: everything lives in src/cli, loaded here so start-up stays small.
import { main } from '../src/cli/index.js';

// ssh2 allocates a buffer for every packet it sends (32 kB for an OpenSSH session): out of
// Node's shared pool once the pool is big enough, instead of one allocation each, which
// made a first deploy to 20 hosts spend a tenth of its CPU on malloc, page faults and GC
// (admin CPU 4.98 s -> 4.36 s, median of 5 A/B runs). Documented as settable; 1 MB slabs.
Buffer.poolSize = 1024 * 1024;

// exit at once: a connection still being set up to a host the run no longer needs
// (it stopped early) must not keep the process waiting for its handshake or timeout
process.exit(await main(process.argv));
