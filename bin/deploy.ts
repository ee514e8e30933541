#!/usr/bin/env node
// The `deploy` command: everything lives in src/cli, loaded here so start-up stays small.
import { setFlagsFromString } from 'node:v8';
import { main } from '../src/cli/index.js';

// ssh2 allocates a buffer for every packet it sends: from Node's shared pool once the pool is
// big enough, instead of one allocation each (malloc, page faults and GC were a tenth of a
// first deploy's CPU; docs/benchmark.md). Documented as settable.
Buffer.poolSize = 1024 * 1024;

// V8 counts buffer memory outside its heap against the old generation's limit, which it
// sets from the small live JS heap: ssh2's packet buffers then trigger a full GC every few
// MB. Four times the live heap keeps full GCs rare for some MB of RSS (docs/benchmark.md).
// Set before the run starts: V8 reads it each time it sets the limit.
setFlagsFromString('--heap-growing-percent=300');

// exit at once: a connection still being set up to a host the run no longer needs
// (it stopped early) must not keep the process waiting for its handshake or timeout
process.exit(await main(process.argv));
