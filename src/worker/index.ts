/**
 * `deploy worker`: root's side of the dashboard. It takes the requests the unprivileged
 * HTTP process leaves in the spool (src/feed/requests.ts) and runs each in a child process
 * of its own (`deploy worker --child`), which becomes the person it is for and goes through
 * the same checks, lock and queue as `sudo deploy`. Everything about a request file is
 * distrusted: it is opened without following links, must be a small regular file with one
 * link, owned by a member of the feed's group (or root), and is removed before it is read,
 * so it is never run twice.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { chmod, chown, lstat, mkdir, open, readdir, readFile, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { FEED_GROUP, feedGid, feedMkdir, writeAtomic } from '../feed/index.js';
import { type DeployRequest, REQUEST_ID, REQUEST_MAX_BYTES, type RequestStatus, requestSchema, spoolDir, statusDir } from '../feed/requests.js';
import { formatIssues } from '../config/schema.js';
import { isAlive } from '../flows/lock.js';
import { errorMessage } from '../errors.js';
import { passwdEntry } from '../caller.js';
import { unixGroups } from '../serve/auth.js';

/** A request file being written (src/feed/requests.ts), and how long one may take before it is removed. */
const PARTIAL = '.partial';
const PARTIAL_KEPT_MS = 60_000;

/** Statuses kept; the oldest are removed as new ones come. */
const STATUSES_KEPT = 500;

export interface WorkerOptions {
  root: string;
  appsDir: string;
  /** Dashboard admins: they may deploy an app-env whose env names no allowGroups. */
  admins: readonly string[];
  /** Runs at once (each app-env's lock still lets one run at a time touch it). */
  maxRuns?: number;
  pollMs?: number;
  /** How a checked request is run; by default a child `deploy worker --child`. */
  start?: (request: DeployRequest, admins: readonly string[]) => ChildProcess;
  log?: (line: string) => void;
}

/** A child `deploy worker --child` on this process's own Node and script, given the request on stdin. */
export function startChild(appsDir: string, root: string): WorkerOptions['start'] {
  return (request, admins) => {
    const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, 'worker', '--child', '--apps', appsDir, '--root', root], {
      stdio: ['pipe', 'inherit', 'pipe'],
      env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', CI: '1', HOME: process.env.HOME ?? '/root', LANG: 'C.UTF-8' },
    });
    child.stdin!.end(`${JSON.stringify({ request, admins })}\n`);
    return child;
  };
}

export class Worker {
  private readonly spool: string;
  private readonly statuses: string;
  private readonly waiting: DeployRequest[] = [];
  private readonly running = new Set<ChildProcess>();
  private readonly groupsOf = unixGroups();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private gid: number | undefined;
  private scanning: Promise<void> | undefined;

  constructor(private readonly options: WorkerOptions) {
    this.spool = spoolDir(options.root);
    this.statuses = statusDir(options.root);
  }

  private log(line: string): void {
    (this.options.log ?? ((l) => process.stderr.write(`${l}\n`)))(line);
  }

  /**
   * The spool and the status directory with their owners and modes (made or mended), and the
   * statuses a previous worker left unfinished marked lost.
   */
  async prepare(): Promise<void> {
    const gid = (this.gid = feedGid());
    if (gid === undefined) throw new Error(`the group ${FEED_GROUP} does not exist: create it and put the dashboard's user in it (docs/dashboard.md)`);
    await mkdir(this.spool, { recursive: true, mode: 0o700 });
    const st = await lstat(this.spool);
    if (!st.isDirectory()) throw new Error(`${this.spool} is not a directory`);
    await chown(this.spool, 0, gid);
    // the group may create files (w, x) but not list them (r) nor remove another's (sticky)
    await chmod(this.spool, 0o1730);
    feedMkdir(join(this.statuses, '..'), gid);
    feedMkdir(this.statuses, gid);
    for (const name of await readdir(this.statuses)) {
      const status = await this.readStatus(name);
      if (!status || (status.state !== 'queued' && status.state !== 'running')) continue;
      if (status.worker === process.pid || isAlive(status.worker)) continue;
      await this.setStatus({ ...status, state: 'lost', error: 'the worker stopped before this request ended: the run\'s own page says what it did' });
    }
  }

  /** Take new requests every pollMs until stopped. */
  run(): void {
    const tick = async () => {
      if (this.stopped) return;
      await this.scan().catch((err) => this.log(`worker: cannot read the spool: ${errorMessage(err)}`));
      if (!this.stopped) this.timer = setTimeout(() => void tick(), this.options.pollMs ?? 250);
    };
    void tick();
  }

  /** Stop taking requests; runs already started go on to their end. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.scanning;
    await Promise.all([...this.running].map((c) => new Promise((resolve) => (c.exitCode !== null ? resolve(undefined) : c.once('exit', resolve)))));
  }

  /** Look at the spool once: every request file found is taken (and removed). */
  async scan(): Promise<void> {
    const once = (async () => {
      for (const name of (await readdir(this.spool)).sort()) await this.take(name);
    })();
    this.scanning = once;
    await once;
  }

  private async take(name: string): Promise<void> {
    const file = join(this.spool, name);
    const id = name.endsWith('.json') ? name.slice(0, -5) : '';
    const refuse = async (why: string) => {
      this.log(`worker: refused ${JSON.stringify(name)}: ${why}`);
      // a file reusing the id of a request already answered must not rewrite that answer
      if (REQUEST_ID.test(id) && !(await this.knownStatus(id))) await this.setStatus({ v: 1, id, state: 'refused', error: why, updated: new Date().toISOString(), worker: process.pid });
    };
    if (name.endsWith(PARTIAL)) return this.leavePartial(file);
    let text: string;
    try {
      text = await this.readRequestFile(file);
    } catch (err) {
      await rm(file, { force: true, recursive: true }).catch(() => undefined);
      return refuse(errorMessage(err));
    }
    if (!REQUEST_ID.test(id)) return refuse('not a request file name');
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      return refuse('not JSON');
    }
    const parsed = requestSchema.safeParse(raw);
    if (!parsed.success) return refuse(`not a valid request: ${formatIssues(parsed.error.issues).join('; ')}`);
    const request = parsed.data;
    if (request.id !== id) return refuse('the request\'s id is not its file\'s name');
    if (await this.knownStatus(id)) return refuse('a request with this id was already taken');
    await this.setStatus({ ...this.statusOf(request), state: 'queued' });
    this.waiting.push(request);
    this.pump();
  }

  /** A request still being written: left alone for a while, removed once clearly abandoned. */
  private async leavePartial(file: string): Promise<void> {
    const st = await lstat(file).catch(() => undefined);
    if (st && Date.now() - st.mtimeMs > PARTIAL_KEPT_MS) await rm(file, { force: true, recursive: true }).catch(() => undefined);
  }

  /** The file's text, once checked: a small regular file with one link, its owner one of the feed group's. Removed once read. */
  private async readRequestFile(file: string): Promise<string> {
    const fh = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch((err: NodeJS.ErrnoException) => {
      throw new Error(err.code === 'ELOOP' ? 'a symbolic link, not a request' : errorMessage(err));
    });
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw new Error('not a regular file');
      await unlink(file);
      if (st.nlink !== 1) throw new Error('a file with other links');
      if (st.size > REQUEST_MAX_BYTES) throw new Error(`larger than ${REQUEST_MAX_BYTES} bytes`);
      if (!(await this.mayRequest(st.uid))) throw new Error(`written by uid ${st.uid}, who is not in the ${FEED_GROUP} group`);
      const buf = Buffer.alloc(REQUEST_MAX_BYTES + 1);
      const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
      return buf.subarray(0, bytesRead).toString('utf8');
    } finally {
      await fh.close();
    }
  }

  /** Root, or a member of the feed's group (the dashboard's own lookup, remembered for a minute). */
  private async mayRequest(uid: number): Promise<boolean> {
    if (uid === 0) return true;
    const name = passwdEntry(uid)?.name;
    return name !== undefined && (await this.groupsOf(name)).includes(FEED_GROUP);
  }

  private pump(): void {
    const max = this.options.maxRuns ?? 4;
    while (this.running.size < max && this.waiting.length) {
      const request = this.waiting.shift()!;
      void this.startRun(request);
    }
  }

  private async startRun(request: DeployRequest): Promise<void> {
    const start = this.options.start ?? startChild(this.options.appsDir, this.options.root)!;
    this.log(`worker: ${request.id}: ${request.action} ${request.target} for ${request.person} (${request.via})`);
    const child = start(request, this.options.admins);
    this.running.add(child);
    await this.setStatus({ ...this.statusOf(request), state: 'running' });
    // the child's last words are the request's error: what `deploy` says when it fails
    let said = '';
    child.stderr?.on('data', (d: Buffer) => {
      process.stderr.write(d);
      said = (said + d.toString()).slice(-4000);
    });
    const code = await new Promise<number>((resolve) => {
      child.once('error', () => resolve(1));
      // 'close', not 'exit': by then every byte of its stderr has been read, its last words too
      child.once('close', (c, signal) => resolve(c ?? (signal ? 128 + 15 : 1)));
    });
    this.running.delete(child);
    const last = said.trim().split('\n').filter((l) => l.startsWith('deploy: ')).pop()?.slice('deploy: '.length);
    await this.setStatus({
      ...this.statusOf(request),
      state: code === 2 ? 'refused' : 'done',
      exitCode: code,
      ...(code !== 0 && last ? { error: last } : {}),
    });
    this.log(`worker: ${request.id}: exit ${code}`);
    this.pump();
  }

  private statusOf(r: DeployRequest): RequestStatus {
    return {
      v: 1,
      id: r.id,
      state: 'queued',
      target: r.target,
      action: r.action,
      person: r.person,
      via: r.via,
      ...(r.revision ? { revision: r.revision } : {}),
      ...(r.to ? { to: r.to } : {}),
      requested: r.requested,
      updated: new Date().toISOString(),
      worker: process.pid,
    };
  }

  private async knownStatus(id: string): Promise<boolean> {
    return (await lstat(join(this.statuses, `${id}.json`)).catch(() => undefined)) !== undefined;
  }

  private async readStatus(name: string): Promise<RequestStatus | undefined> {
    if (!/^[0-9a-f]{32}\.json$/.test(name)) return undefined;
    try {
      return JSON.parse(await readFile(join(this.statuses, name), 'utf8')) as RequestStatus;
    } catch {
      return undefined;
    }
  }

  private async setStatus(status: RequestStatus): Promise<void> {
    try {
      writeAtomic(join(this.statuses, `${status.id}.json`), `${JSON.stringify({ ...status, updated: new Date().toISOString() })}\n`);
      if (status.state === 'queued') await this.prune();
    } catch (err) {
      this.log(`worker: cannot write the status of ${status.id}: ${errorMessage(err)}`);
    }
  }

  private async prune(): Promise<void> {
    const names = (await readdir(this.statuses)).filter((n) => n.endsWith('.json'));
    if (names.length <= STATUSES_KEPT) return;
    const dated = await Promise.all(names.map(async (n) => ({ n, t: (await lstat(join(this.statuses, n)).catch(() => undefined))?.mtimeMs ?? 0 })));
    dated.sort((a, b) => a.t - b.t);
    for (const { n } of dated.slice(0, dated.length - STATUSES_KEPT)) await rm(join(this.statuses, n), { force: true });
  }
}
