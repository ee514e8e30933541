/**
 * The dashboard's only source: the feed root's CLI writes (src/feed). Names from a URL are
 * never joined into a path: a target must be one the feed directory lists, a run id must
 * match RUN_ID and be one of that target's files.
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

export class Feed {
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
    try {
      return JSON.parse(await readFile(join(this.dir, target, 'summary.json'), 'utf8')) as FeedSummary;
    } catch {
      return undefined;
    }
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
    const out: RunListing[] = [];
    for (const id of (await this.runIds(target)).slice(0, limit)) {
      const r = await this.readRun(target, id);
      if (r) out.push(r.listing);
    }
    return out;
  }

  /** A fingerprint that changes when any summary or run file does: the overview's "something happened". */
  async version(): Promise<string> {
    const parts: string[] = [];
    for (const t of await this.targets()) {
      for (const p of [join(this.dir, t, 'summary.json'), join(this.dir, t, 'runs')]) {
        const s = await stat(p).catch(() => undefined);
        parts.push(`${t}:${s ? `${s.mtimeMs}:${s.size}` : '-'}`);
      }
      const [newest] = await this.runIds(t);
      if (newest) {
        const s = await stat(this.runFile(t, newest)).catch(() => undefined);
        parts.push(`${newest}:${s?.size ?? '-'}`);
      }
    }
    return parts.join('|');
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
