/**
 * The dashboard's only source: the feed root's CLI writes (src/feed). Names from a URL are
 * never joined into a path: a target must be one the feed directory lists, a run id must
 * match RUN_ID and be one of that target's files.
 *
 * The overview and /metrics look at every app-env's summary and newest runs on every request
 * (and an open overview asks again after every change), so what they read is kept between
 * requests and read again only when its file changed: a summary when its file is another one
 * (summaries are replaced whole, by rename) or another size or time; a run's listing by
 * reading only the lines appended since (run files are only ever appended to). Without this
 * the overview of 150 app-envs parsed about 20 MB of JSON per request (bench/dashboard.ts).
 */
import { open, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { type FeedSummary, RUN_ID, type RunMeta, feedDir } from '../feed/index.js';
import { splitTarget } from '../config/names.js';

export interface RunListing {
  id: string;
  meta: RunMeta;
  /** `running`: no end yet and its process lives; `interrupted`: no end and no process (killed). */
  state: 'running' | 'ok' | 'failed' | 'interrupted';
  finish?: { exitCode: number; ms: number; error: string | null; release: { id: string } | null; counts: Record<string, number> };
  /** The newest phase started, while running. */
  phase?: string;
}

/** What a run's listing needs of its lines, kept per run file, and how far the file was read. */
interface RunDigest {
  ino: number;
  /** The file's size when last read, and the end of its last complete line then. */
  size: number;
  offset: number;
  /** The first line (the run's meta, or the run shows as nothing), the first `run.finish`, the last `phase.start`. */
  first?: FeedLine;
  finish?: FeedLine;
  phase?: FeedLine;
}

export class Feed {
  /** Parsed summaries, by target, with the identity of the file they were read from. Shared: never changed by callers. */
  private readonly summaries = new Map<string, { key: string; summary: FeedSummary | undefined }>();
  /** Run digests, by target and run id; a run that left the directory is dropped when its target's runs are listed. */
  private readonly digests = new Map<string, Map<string, RunDigest>>();

  constructor(readonly root: string) {}

  get dir(): string {
    return feedDir(this.root);
  }

  async targets(): Promise<string[]> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    return names.filter((n) => splitTarget(n) !== undefined).sort();
  }

  /** The target as the feed knows it, or undefined (also for any name that is not one). */
  async find(target: string): Promise<string | undefined> {
    return (await this.targets()).find((t) => t === target);
  }

  async summary(target: string): Promise<FeedSummary | undefined> {
    const file = join(this.dir, target, 'summary.json');
    const st = await stat(file).catch(() => undefined);
    const key = st && `${st.ino}:${st.size}:${st.mtimeMs}`;
    const kept = this.summaries.get(target);
    if (key && kept?.key === key) return kept.summary;
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch {
      this.summaries.delete(target);
      return undefined;
    }
    let summary: FeedSummary | undefined;
    try {
      summary = JSON.parse(text) as FeedSummary;
    } catch {
      summary = undefined;
    }
    // replaced between the stat and the read: kept under the old key, so read again next time
    if (key) this.summaries.set(target, { key, summary });
    return summary;
  }

  /** Run ids, newest first. */
  async runIds(target: string): Promise<string[]> {
    const files = await readdir(join(this.dir, target, 'runs')).catch(() => [] as string[]);
    return files.filter((f) => f.endsWith('.jsonl') && RUN_ID.test(f.slice(0, -6))).map((f) => f.slice(0, -6)).sort().reverse();
  }

  runFile(target: string, id: string): string {
    return join(this.dir, target, 'runs', `${id}.jsonl`);
  }

  /** A run named in a URL: only an id this target's runs directory lists. */
  async run(target: string, id: string): Promise<{ listing: RunListing; lines: FeedLine[]; size: number } | undefined> {
    if (!RUN_ID.test(id) || !(await this.runIds(target)).includes(id)) return undefined;
    return this.readRun(target, id);
  }

  private async readRun(target: string, id: string): Promise<{ listing: RunListing; lines: FeedLine[]; size: number } | undefined> {
    const text = await readFile(this.runFile(target, id), 'utf8').catch(() => undefined);
    if (text === undefined) return undefined;
    const complete = text.slice(0, text.lastIndexOf('\n') + 1);
    const lines = parseLines(complete);
    const listing = listingOf(id, lines);
    return listing ? { listing, lines, size: Buffer.byteLength(complete) } : undefined;
  }

  async runs(target: string, limit = 20): Promise<RunListing[]> {
    const ids = await this.runIds(target);
    let digests = this.digests.get(target);
    if (!digests) this.digests.set(target, (digests = new Map()));
    const present = new Set(ids);
    for (const id of digests.keys()) if (!present.has(id)) digests.delete(id);
    const listings = await Promise.all(ids.slice(0, limit).map(async (id) => {
      const d = await this.digest(target, id, digests);
      return d?.first ? listingOf(id, [d.first, ...(d.finish ? [d.finish] : []), ...(d.phase ? [d.phase] : [])]) : undefined;
    }));
    return listings.filter((l): l is RunListing => l !== undefined);
  }

  /**
   * A run's digest, brought up to date: unchanged, the kept one; grown, only the new lines
   * are read; replaced or shorter, read again from the start. A file that cannot be read has none.
   */
  private async digest(target: string, id: string, digests: Map<string, RunDigest>): Promise<RunDigest | undefined> {
    const file = this.runFile(target, id);
    const st = await stat(file).catch(() => undefined);
    const kept = digests.get(id);
    if (!st) {
      digests.delete(id);
      return undefined;
    }
    if (kept && kept.ino === st.ino && kept.size === st.size) return kept;
    const handle = await open(file, 'r').catch(() => undefined);
    if (!handle) return undefined;
    try {
      const now = await handle.stat();
      const d: RunDigest = kept && kept.ino === now.ino && kept.offset <= now.size ? { ...kept } : { ino: now.ino, size: 0, offset: 0 };
      const from = d.offset;
      const buf = Buffer.alloc(now.size - from);
      const { bytesRead } = await handle.read(buf, 0, buf.length, from);
      const end = buf.subarray(0, bytesRead).lastIndexOf(0x0a) + 1;
      digestLines(d, buf.subarray(0, end).toString('utf8'));
      d.offset = from + end;
      d.size = from + bytesRead;
      digests.set(id, d);
      return d;
    } finally {
      await handle.close();
    }
  }

  /** A fingerprint that changes when any summary or run file does: the overview's "something happened". */
  async version(): Promise<string> {
    // every target at once: one after the other, the waits for 600 stats were most of its time
    const perTarget = await Promise.all((await this.targets()).map(async (t) => {
      const stats = await Promise.all([join(this.dir, t, 'summary.json'), join(this.dir, t, 'runs')].map((p) => stat(p).catch(() => undefined)));
      const parts = stats.map((s) => `${t}:${s ? `${s.mtimeMs}:${s.size}` : '-'}`);
      const [newest] = await this.runIds(t);
      if (newest) {
        const s = await stat(this.runFile(t, newest)).catch(() => undefined);
        parts.push(`${newest}:${s?.size ?? '-'}`);
      }
      return parts;
    }));
    return perTarget.flat().join('|');
  }

  /** The bytes of a run's file from `offset`, complete lines only. */
  async tail(target: string, id: string, offset: number): Promise<{ lines: FeedLine[]; next: number }> {
    const handle = await open(this.runFile(target, id), 'r');
    try {
      const { size } = await handle.stat();
      if (size <= offset) return { lines: [], next: offset };
      const buf = Buffer.alloc(size - offset);
      await handle.read(buf, 0, buf.length, offset);
      const end = buf.lastIndexOf(0x0a) + 1;
      return { lines: parseLines(buf.subarray(0, end).toString('utf8')), next: offset + end };
    } finally {
      await handle.close();
    }
  }
}

/** A line of a run's file: its meta, or an event of docs/json-events.md. */
export type FeedLine = Record<string, unknown> & { type: string };

function parseLines(text: string): FeedLine[] {
  const out: FeedLine[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    try {
      const obj = JSON.parse(line) as unknown;
      if (obj && typeof obj === 'object' && typeof (obj as { type?: unknown }).type === 'string') out.push(obj as FeedLine);
    } catch {
      // a torn line from a killed run: skipped
    }
  }
  return out;
}

/**
 * Add a run file's complete lines to its digest, as listingOf would see them in the whole
 * list. After the first line only `run.finish` and `phase.start` matter: a line is parsed only
 * if it holds one of those words (the CLI's JSON.stringify never escapes them), so a listing
 * costs a few JSON.parse calls instead of one per line.
 */
function digestLines(d: RunDigest, text: string): void {
  for (const line of text.split('\n')) {
    if (!line) continue;
    if (d.first && !line.includes('run.finish') && !line.includes('phase.start')) continue;
    const [l] = parseLines(line);
    if (!l) continue;
    if (!d.first) d.first = l;
    else if (l.type === 'run.finish') d.finish ??= { type: l.type, exitCode: l.exitCode, ms: l.ms, error: l.error, release: l.release, counts: l.counts };
    else if (l.type === 'phase.start') d.phase = { type: l.type, phase: l.phase };
  }
}

/** Is the process that writes a run still there? (It is root's: EPERM means it exists.) */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function listingOf(id: string, lines: readonly FeedLine[], isAlive: (pid: number) => boolean = alive): RunListing | undefined {
  const meta = lines[0];
  if (meta?.type !== 'feed.run') return undefined;
  const finish = lines.find((l) => l.type === 'run.finish') as (FeedLine & RunListing['finish']) | undefined;
  const phases = lines.filter((l) => l.type === 'phase.start');
  const m = meta as unknown as RunMeta;
  if (finish) {
    return { id, meta: m, state: finish.exitCode === 0 ? 'ok' : 'failed', finish: { exitCode: finish.exitCode, ms: finish.ms, error: finish.error, release: finish.release, counts: finish.counts } };
  }
  const phase = phases.length ? String(phases[phases.length - 1]!.phase) : undefined;
  return { id, meta: m, state: isAlive(m.pid) ? 'running' : 'interrupted', ...(phase ? { phase } : {}) };
}
