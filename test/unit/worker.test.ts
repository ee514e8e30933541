/**
 * Root's deploy worker (src/worker): the spool it makes, the request files it refuses, the
 * statuses it writes, and the spool's permissions as the dashboard's unprivileged user
 * meets them. Needs root (chown, useradd, setpriv): it makes the group slipway-web and two
 * system users if missing, slipway-ut-web (in the group) and slipway-ut-out (not). No real
 * deploy runs: `start` spawns a small Node script standing for `deploy worker --child`.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, utimesSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { FEED_GROUP, feedGid } from '../../src/feed/index.js';
import type { DeployRequest, RequestStatus } from '../../src/feed/requests.js';
import { writeRequest } from '../../src/feed/requests.js';
import { Worker } from '../../src/worker/index.js';

const WEB_USER = 'slipway-ut-web';
const OUT_USER = 'slipway-ut-out';

function sh(cmd: string): void {
  execFileSync('sh', ['-c', cmd], { stdio: ['ignore', 'ignore', 'inherit'] });
}

/** uid, gid of a user, made (a system user without home or shell) if missing. */
function ensureUser(name: string, inGroup: boolean): { uid: number; gid: number } {
  sh(`getent passwd ${name} >/dev/null || useradd --system -M -s /usr/sbin/nologin ${name}`);
  // reused users are put right: the one in the group, the other not
  if (inGroup) sh(`usermod -aG ${FEED_GROUP} ${name}`);
  else sh(`! id -Gn ${name} | tr ' ' '\\n' | grep -qx ${FEED_GROUP} || gpasswd -d ${name} ${FEED_GROUP} >/dev/null`);
  const [, , uid, gid] = execFileSync('getent', ['passwd', name], { encoding: 'utf8' }).split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

let gid: number;
let web: { uid: number; gid: number };
let out: { uid: number; gid: number };

before(() => {
  assert.equal(process.getuid?.(), 0, 'these tests need root');
  sh(`getent group ${FEED_GROUP} >/dev/null || groupadd --system ${FEED_GROUP}`);
  gid = feedGid()!;
  assert.ok(Number.isInteger(gid));
  web = ensureUser(WEB_USER, true);
  out = ensureUser(OUT_USER, false);
});

const newId = () => randomBytes(16).toString('hex');

function request(extra: Partial<Record<keyof DeployRequest, unknown>> & { id?: string } = {}): Record<string, unknown> {
  return { v: 1, id: newId(), action: 'deploy', target: 'shop-prod', person: 'alice', via: 'dashboard', revision: 'v1.2', requested: '2026-12-05T10:15:00.000Z', ...extra };
}

/** Poll until `check` holds (no fixed sleep): the worker's runs end on their own time. */
async function waitFor<T>(what: string, check: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * A worker on a fresh root whose `start` spawns `script` (Node, with ROOT defined, given the
 * request on stdin as the real child is) and records each call and the request's status then.
 */
function harness(script = 'process.exit(0)') {
  const root = mkdtempSync('/tmp/slipway-worker-');
  chmodSync(root, 0o755); // the web user must reach <root>/.spool, as it reaches the real admin root
  const spool = join(root, '.spool');
  const statuses = join(root, '.feed', '.requests');
  const started: { request: DeployRequest; admins: readonly string[]; statusThen: RequestStatus | undefined; child: ChildProcess }[] = [];
  const logs: string[] = [];
  const status = (id: string): RequestStatus | undefined => {
    try {
      return JSON.parse(readFileSync(join(statuses, `${id}.json`), 'utf8')) as RequestStatus;
    } catch {
      return undefined;
    }
  };
  const worker = new Worker({
    root,
    appsDir: join(root, 'apps'),
    admins: ['root'],
    log: (l) => logs.push(l),
    start: (request, admins) => {
      const child = spawn(process.execPath, ['-e', `const ROOT = ${JSON.stringify(root)};\n${script}`], { stdio: ['pipe', 'ignore', 'pipe'] });
      child.stdin!.end(`${JSON.stringify({ request, admins })}\n`);
      started.push({ request, admins, statusThen: status(request.id), child });
      return child;
    },
  });
  return {
    root,
    spool,
    statuses,
    worker,
    started,
    logs,
    status,
    /** Put a request file in the spool as root (or as `owner`). */
    put(body: Record<string, unknown> | string, name = `${(body as { id?: string }).id}.json`, owner?: number): string {
      const file = join(spool, name);
      writeFileSync(file, typeof body === 'string' ? body : JSON.stringify(body));
      if (owner !== undefined) chownSync(file, owner, owner === web.uid ? web.gid : out.gid);
      return file;
    },
    async close() {
      for (const s of started) if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill();
      await worker.stop();
      rmSync(root, { recursive: true, force: true });
    },
  };
}
type Harness = ReturnType<typeof harness>;

describe('prepare()', () => {
  let h: Harness;
  afterEach(() => h.close());

  it(`makes the spool root:${FEED_GROUP} 1730 and the status directory, and marks a dead worker's unfinished statuses lost`, async () => {
    h = harness();
    // a pid that surely is no process now: a child that has exited and been reaped
    const dead = spawnSync(process.execPath, ['-e', '0']).pid;
    mkdirSync(h.statuses, { recursive: true });
    const stale = { v: 1, id: newId(), state: 'running', target: 'shop-prod', updated: '2026-12-05T10:15:00Z', worker: dead };
    const queued = { ...stale, id: newId(), state: 'queued' };
    const mine = { ...stale, id: newId(), worker: process.pid }; // this very worker's: not lost
    const other = { ...stale, id: newId(), worker: process.ppid }; // a live process: another worker still going
    const ended = { ...stale, id: newId(), state: 'done', exitCode: 0 };
    for (const s of [stale, queued, mine, other, ended]) writeFileSync(join(h.statuses, `${s.id}.json`), JSON.stringify(s));
    // a spool left with too open a mode is mended
    mkdirSync(h.spool, { mode: 0o777 });
    chmodSync(h.spool, 0o777);

    await h.worker.prepare();

    const st = lstatSync(h.spool);
    assert.ok(st.isDirectory());
    assert.equal((st.mode & 0o7777).toString(8), '1730');
    assert.equal(st.uid, 0);
    assert.equal(st.gid, gid);
    const sd = statSync(h.statuses);
    assert.ok(sd.isDirectory());
    assert.equal(sd.gid, gid);
    assert.equal((sd.mode & 0o7777).toString(8), '2750', 'the group reads statuses, never writes them');
    assert.equal(h.status(stale.id)?.state, 'lost');
    assert.match(h.status(stale.id)?.error ?? '', /the worker stopped before this request ended/);
    assert.equal(h.status(queued.id)?.state, 'lost');
    assert.equal(h.status(mine.id)?.state, 'running');
    assert.equal(h.status(other.id)?.state, 'running');
    assert.equal(h.status(ended.id)?.state, 'done');
  });

  it('refuses a spool that is a link to a directory, leaving that directory as it was; and one that is a file', async () => {
    h = harness();
    const target = mkdtempSync('/tmp/slipway-worker-target-');
    try {
      symlinkSync(target, h.spool);
      await assert.rejects(h.worker.prepare(), /\.spool is not a directory/);
      const st = statSync(target);
      assert.equal((st.mode & 0o7777).toString(8), '700', 'not chmod-ed through the link');
      assert.equal(st.gid, 0, 'not chown-ed through the link');
    } finally {
      rmSync(target, { recursive: true });
    }
    rmSync(h.spool);
    writeFileSync(h.spool, '');
    await assert.rejects(h.worker.prepare(), /EEXIST/);
  });
});

describe('a request, run', () => {
  let h: Harness;
  afterEach(() => h.close());

  it('a request still being written (.partial) is left alone until it is renamed; one abandoned for a minute is removed', async () => {
    h = harness();
    await h.worker.prepare();
    const r = request();
    const partial = h.put(JSON.stringify(r).slice(0, 20), `${r.id as string}.json.partial`);
    await h.worker.scan();
    assert.equal(existsSync(partial), true, 'not read half written');
    assert.equal(h.status(r.id as string), undefined);
    assert.equal(h.started.length, 0);
    const old = (Date.now() - 120_000) / 1000;
    utimesSync(partial, old, old);
    await h.worker.scan();
    assert.equal(existsSync(partial), false, 'an abandoned one is removed');
    assert.equal(h.started.length, 0);
    // writeRequest, as the dashboard calls it, leaves exactly the request under its own name
    await writeRequest(h.root, r as DeployRequest);
    assert.deepEqual(readdirSync(h.spool), [`${r.id as string}.json`]);
    await h.worker.scan();
    await waitFor('the request to run', () => h.started.length === 1);
  });

  it('queued, then running, then done with exit 0: started once with the request as parsed, the file gone', async () => {
    // stands for a deploy that goes on until the test lets it end (by making <root>/go)
    h = harness(`const t = setInterval(() => { if (require('node:fs').existsSync(require('node:path').join(ROOT, 'go'))) { clearInterval(t); process.exit(0); } }, 5);`);
    const go = join(h.root, 'go');
    await h.worker.prepare();
    const r = request({ via: 'api', revision: 'release/2026.12' });
    const file = h.put(r);
    await h.worker.scan();
    assert.equal(existsSync(file), false);
    await waitFor('the run to start', () => h.started.length === 1);
    const [s] = h.started;
    assert.deepEqual(s!.request, r);
    assert.deepEqual(s!.admins, ['root']);
    assert.equal(s!.statusThen?.state, 'queued');
    await waitFor('running', () => h.status(r.id as string)?.state === 'running');
    const running = h.status(r.id as string)!;
    assert.equal(running.person, 'alice');
    assert.equal(running.via, 'api');
    assert.equal(running.worker, process.pid);
    writeFileSync(go, '');
    await waitFor('done', () => h.status(r.id as string)?.state === 'done');
    const done = h.status(r.id as string)!;
    assert.equal(done.exitCode, 0);
    assert.equal(done.error, undefined);
    assert.equal(done.revision, 'release/2026.12');
    assert.equal(h.started.length, 1);
    assert.deepEqual(readdirSync(h.spool), []);
  });

  it("a run that fails: done, its exit code, and the child's last `deploy:` line as the error", async () => {
    h = harness(`process.stderr.write('deploy: first\\nsomething else\\ndeploy: boom\\n'); process.exitCode = 1;`);
    await h.worker.prepare();
    const r = request();
    h.put(r);
    await h.worker.scan();
    const s = await waitFor('done', () => (h.status(r.id as string)?.state === 'done' ? h.status(r.id as string) : undefined));
    assert.equal(s.exitCode, 1);
    assert.equal(s.error, 'boom');
  });

  it('a run the child refuses (exit 2): refused', async () => {
    h = harness(`process.stderr.write('deploy: alice may not deploy shop-prod\\n'); process.exitCode = 2;`);
    await h.worker.prepare();
    const r = request();
    h.put(r);
    await h.worker.scan();
    const s = await waitFor('an end', () => (h.started.length && h.status(r.id as string)?.exitCode !== undefined ? h.status(r.id as string) : undefined));
    assert.equal(s.state, 'refused');
    assert.equal(s.exitCode, 2);
    assert.equal(s.error, 'alice may not deploy shop-prod');
  });
});

describe('request files refused', () => {
  let h: Harness;
  let elsewhere: string;
  before(async () => {
    h = harness();
    await h.worker.prepare();
    elsewhere = mkdtempSync('/tmp/slipway-worker-elsewhere-');
  });
  after(async () => {
    await h.close();
    rmSync(elsewhere, { recursive: true, force: true });
  });
  beforeEach(() => {
    h.started.length = 0;
    h.logs.length = 0;
  });

  /** After one scan: nothing left in the spool, nothing started, and (for an id's name) a refusal saying why. */
  async function refused(id: string | undefined, why: RegExp): Promise<void> {
    await h.worker.scan();
    assert.deepEqual(readdirSync(h.spool), []);
    assert.equal(h.started.length, 0, 'nothing was started');
    assert.match(h.logs.join('\n'), why);
    if (id) {
      const s = h.status(id);
      assert.equal(s?.state, 'refused');
      assert.match(s?.error ?? '', why);
      assert.equal(s?.target, undefined, 'a refused file is not taken for what it says');
    }
  }

  it('a symbolic link, even to a valid request: removed, its target left alone', async () => {
    const r = request();
    const real = join(elsewhere, `${r.id}.json`);
    writeFileSync(real, JSON.stringify(r));
    symlinkSync(real, join(h.spool, `${r.id}.json`));
    await refused(r.id as string, /a symbolic link, not a request/);
    assert.equal(existsSync(real), true);
  });

  it('a FIFO (the worker does not block on it)', async () => {
    const id = newId();
    sh(`mkfifo ${join(h.spool, `${id}.json`)}`);
    await refused(id, /not a regular file/);
  });

  it('a directory', async () => {
    const id = newId();
    mkdirSync(join(h.spool, `${id}.json`));
    writeFileSync(join(h.spool, `${id}.json`, 'inside'), 'x');
    await refused(id, /not a regular file/);
  });

  it('a hard link to a file elsewhere (two links)', async () => {
    const r = request();
    const real = join(elsewhere, `hard-${r.id}.json`);
    writeFileSync(real, JSON.stringify(r));
    linkSync(real, join(h.spool, `${r.id}.json`));
    await refused(r.id as string, /a file with other links/);
    assert.equal(readFileSync(real, 'utf8'), JSON.stringify(r));
  });

  it('a file over 4096 bytes, though a valid request padded with spaces', async () => {
    const r = request();
    h.put(`${JSON.stringify(r)}${' '.repeat(4096)}`, `${r.id}.json`);
    await refused(r.id as string, /larger than 4096 bytes/);
  });

  it('not JSON', async () => {
    const id = newId();
    h.put('{"v":1,', `${id}.json`);
    await refused(id, /not JSON/);
  });

  it("an id that is not the file's name", async () => {
    const name = newId();
    h.put(request(), `${name}.json`);
    await refused(name, /the request's id is not its file's name/);
  });

  it('a name that is no id: removed, no status', async () => {
    h.put(request(), 'evil.json');
    h.put(request(), `${newId()}.json.tmp`);
    await refused(undefined, /not a request file name/);
    assert.deepEqual(readdirSync(h.statuses).filter((n) => !/^[0-9a-f]{32}\.json$/.test(n)), []);
  });

  const invalid: [string, Record<string, unknown>, RegExp][] = [
    ['a revision that is shell', { revision: '$(id)' }, /revision: not a valid git ref name/],
    ['a revision that is a path', { revision: '../../etc' }, /revision: not a valid git ref name/],
    ['a revision with a newline', { revision: 'main\nrm -rf /' }, /revision: not a valid git ref name/],
    ['an unknown action', { action: 'destroy' }, /action/],
    ['an unknown key', { command: 'rm -rf /' }, /unknown key "command"/],
    ['a target that is a path', { target: '../x' }, /target: not an <app>-<env>/],
    ['a person that is shell', { person: 'root;rm' }, /person: not a valid unix user name/],
    ['a rollback with a revision', { action: 'rollback', revision: 'main' }, /only a deploy takes a revision/],
    ['a sync with a release', { action: 'sync', revision: undefined, to: 'r1' }, /only a rollback takes a release/],
    ['another version', { v: 2 }, /not a valid request: v/],
  ];
  for (const [what, change, why] of invalid) {
    it(`a request with ${what}`, async () => {
      const r = request(change);
      h.put(r);
      await refused(r.id as string, why);
    });
  }

  it(`a file owned by a user outside ${FEED_GROUP}`, async () => {
    const r = request();
    h.put(r, undefined, out.uid);
    await refused(r.id as string, new RegExp(`written by uid ${out.uid}, who is not in the ${FEED_GROUP} group`));
  });

  it(`a file owned by a member of ${FEED_GROUP} is taken`, async () => {
    const r = request();
    h.put(r, undefined, web.uid);
    await h.worker.scan();
    assert.deepEqual(readdirSync(h.spool), []);
    await waitFor('done', () => h.status(r.id as string)?.state === 'done');
    assert.equal(h.started.length, 1);
    assert.equal(h.started[0]!.request.id, r.id);
  });

  it('a request whose id was already taken is not run again', async () => {
    const r = request();
    h.put(r);
    await h.worker.scan();
    await waitFor('the first to be done', () => h.status(r.id as string)?.state === 'done');
    h.put(r);
    await h.worker.scan();
    assert.deepEqual(readdirSync(h.spool), []);
    assert.equal(h.started.length, 1, 'started once');
    assert.match(h.logs.join('\n'), /a request with this id was already taken/);
  });

  // the web user must not turn a finished request's record into "refused" by spooling its id again
  it("a refused second file with a taken id leaves the first request's status as it was", async () => {
    const r = request();
    h.put(r);
    await h.worker.scan();
    await waitFor('the first to be done', () => h.status(r.id as string)?.state === 'done');
    h.put(r);
    await h.worker.scan();
    const s = h.status(r.id as string);
    assert.equal(s?.state, 'done');
    assert.equal(s?.exitCode, 0);
    assert.equal(s?.person, 'alice');
  });
});

describe(`the spool, as the dashboard's user (${WEB_USER}) meets it`, () => {
  let h: Harness;
  before(async () => {
    h = harness();
    await h.worker.prepare();
  });
  after(() => h.close());

  /** Run `cmd` as the web user with its groups; its exit code. */
  const asWeb = (cmd: string, ...args: string[]) =>
    spawnSync('setpriv', [`--reuid=${web.uid}`, `--regid=${web.gid}`, '--init-groups', 'sh', '-c', cmd, 'sh', ...args], { cwd: '/', encoding: 'utf8' });

  it('is a member of the group, the other user is not (else what follows proves nothing)', () => {
    assert.match(asWeb('id -Gn').stdout, new RegExp(`\\b${FEED_GROUP}\\b`));
    assert.doesNotMatch(execFileSync('id', ['-Gn', OUT_USER], { encoding: 'utf8' }), new RegExp(`\\b${FEED_GROUP}\\b`));
  });

  it('may create a file in the spool, owned by itself', () => {
    const file = join(h.spool, 'f.json');
    const r = asWeb('echo x > "$1"', file);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(statSync(file).uid, web.uid);
    rmSync(file);
  });

  it('may not list the spool', () => {
    const r = asWeb('ls "$1"', h.spool);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /Permission denied/);
  });

  it("may not remove or overwrite a file root put there", () => {
    const file = h.put(request());
    const rm = asWeb('rm -f "$1"', file);
    assert.notEqual(rm.status, 0);
    assert.match(rm.stderr, /Operation not permitted|Permission denied/);
    assert.notEqual(asWeb('echo x > "$1"', file).status, 0);
    assert.equal(existsSync(file), true);
    rmSync(file);
  });

  it('may not write a status', () => {
    const r = asWeb('echo "{}" > "$1"', join(h.statuses, `${newId()}.json`));
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /Permission denied/);
    assert.deepEqual(readdirSync(h.statuses), []);
  });

  it('a request it writes is taken by the worker and run', async () => {
    const r = request({ person: 'bob', via: 'webhook' });
    const w = asWeb('printf %s "$2" > "$1"', join(h.spool, `${r.id}.json`), JSON.stringify(r));
    assert.equal(w.status, 0, w.stderr);
    await h.worker.scan();
    await waitFor('done', () => h.status(r.id as string)?.state === 'done');
    assert.equal(h.started.length, 1);
    assert.deepEqual(h.started[0]!.request, r);
  });
});
