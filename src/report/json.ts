/**
 * `--json`: one JSON object per line on stdout for every event of the run, so
 * CI can follow a deploy without parsing prose. The schema is documented in
 * docs/json-events.md; `v` changes only if a field changes meaning or goes away.
 */
import type { Reporter, RunEvent } from './events.js';
import { ProgressPace } from './progress.js';
import { RunTracker } from './summary.js';

export const JSON_SCHEMA_VERSION = 1;

type Line = Record<string, unknown> & { type: string };

const ms = (n: number | undefined) => Math.round(n ?? 0);

/** The JSON line(s) for one event; `tracker` has already seen the event. */
export function jsonLines(event: RunEvent, tracker: RunTracker): Line[] {
  switch (event.kind) {
    case 'run':
      if (event.state === 'start') {
        return [{ type: 'run.start', target: event.target, hosts: event.hosts, revision: event.revision ?? null, build: event.build ?? null }];
      }
      return [runFinish(tracker)];
    case 'phase':
      if (event.state === 'start') return [{ type: 'phase.start', phase: event.phase }];
      return [{ type: 'phase.finish', phase: event.phase, ok: event.state === 'done', ms: ms(event.ms), failed: event.failed ?? [] }];
    case 'release':
      return [{ type: 'release', id: event.id, commit: event.commit, created: event.created }];
    case 'step': {
      if (event.state === 'start') return [{ type: 'step.start', host: event.host, step: event.step, text: event.text }];
      const finish: Line = {
        type: 'step.finish',
        host: event.host,
        step: event.step,
        ok: event.state !== 'fail',
        ...(event.state === 'skip' ? { skipped: true } : {}),
        ms: ms(event.ms),
        text: event.text,
        ...(event.bytes === undefined ? {} : { bytes: event.bytes }),
        ...(event.files === undefined ? {} : { files: event.files }),
      };
      if (event.state !== 'fail' || event.host === 'admin') return [finish];
      return [finish, { type: 'host.failed', host: event.host, step: event.step, reason: event.text }];
    }
    case 'output':
      return [{ type: 'output', host: event.host, line: event.line }];
    case 'progress':
      return [{ type: 'transfer.progress', host: event.host, text: event.text, bytes: event.bytes, total: event.total ?? null }];
    case 'note':
      return [{ type: 'note', level: event.level, text: event.text }];
  }
}

function runFinish(tracker: RunTracker): Line {
  const s = tracker.summary();
  return {
    type: 'run.finish',
    target: s.target,
    ok: s.exitCode === 0,
    exitCode: s.exitCode,
    ms: ms(s.ms),
    error: s.error ?? null,
    release: s.release ?? null,
    counts: s.counts,
    bytes: s.bytes,
    hosts: s.hosts.map((h) => ({
      host: h.host,
      state: h.state,
      ms: ms(h.ms),
      bytes: h.bytes,
      files: h.files,
      ...(h.error === undefined ? {} : { failedStep: h.failedStep, error: h.error }),
    })),
  };
}

export function jsonReporter(write: (line: string) => void = (l) => process.stdout.write(`${l}\n`), clock: () => Date = () => new Date()): Reporter {
  const tracker = new RunTracker();
  // as paced as the line view: a CI log holds every JSON line
  const pace = new ProgressPace(() => clock().getTime());
  return {
    begin: (title, hosts) => tracker.begin(title, hosts),
    emit(event) {
      if (!pace.show(event)) return;
      tracker.emit(event);
      const ts = clock().toISOString();
      for (const line of jsonLines(event, tracker)) write(JSON.stringify({ v: JSON_SCHEMA_VERSION, ts, ...line }));
    },
    close: async () => {},
  };
}
