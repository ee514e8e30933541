#!/usr/bin/env node
// The `deploy` command: everything lives in src/cli, loaded here so start-up stays small.
import { setFlagsFromString } from 'node:v8';
import { main } from '../src/cli/index.js';

// ssh2 allocates a buffer for every packet it sends (32 kB for an OpenSSH session): out of
// Node's shared pool once the pool is big enough, instead of one allocation each, which
// made a first deploy to 20 hosts spend a tenth of its CPU on malloc, page faults and GC
// (admin CPU 4.98 s -> 4.36 s, median of 5 A/B runs). Documented as settable; 1 MB slabs.
Buffer.poolSize = 1024 * 1024;

// Between two full GCs, V8 counts the buffer memory allocated outside its heap against the
// old generation's limit, which it sets from the live JS heap: about 14 MB here, so a limit
// near 30 MB. A first deploy to 20 hosts pushes 940 MB through those packet buffers, with
// ~50 MB of them in flight, and that ran a full GC (marking the whole heap) every 16 MB of
// packets: 25 of them. A limit four times the live heap instead of ~1.3 times: 4 full GCs,
// Node's CPU 2.47 s -> 2.05 s and the run's wall time 4.82 s -> 4.42 s (medians of 4 A/B
// runs); peak RSS 8 to 20 MB higher (181 MB at 100 hosts). Set before the run starts: V8
// reads it each time it sets the limit.
setFlagsFromString('--heap-growing-percent=300');

// exit at once: a connection still being set up to a host the run no longer needs
// (it stopped early) must not keep the process waiting for its handshake or timeout
process.exit(await main(process.argv));
