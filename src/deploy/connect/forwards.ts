/**
 * Which forwarded port a connection came in on. The release server (stage/release-server.ts)
 * counts its rsync daemons per forward; it learns the forward here, without importing the
 * SSH session (and so ssh2) itself.
 */
import type { Duplex } from 'node:stream';

const forwards = new WeakMap<Duplex, object>();

/** Record that `stream` came in on `forward` (one object per forward, shared by its connections). */
export function cameThrough(stream: Duplex, forward: object): void {
  forwards.set(stream, forward);
}

/** Which forward (of which host) a stream came in on: the same object for all its connections. */
export function forwardOf(stream: Duplex): object | undefined {
  return forwards.get(stream);
}
