/**
 * Requests from the dashboard to the worker. The HTTP process (`deploy serve`, user in the
 * slipway-web group, no privilege) may only create files in the spool; root's worker
 * (`deploy worker`) takes each one, checks it as strictly as the command line checks what a
 * person types, and answers in the feed, where the dashboard reads the outcome:
 *
 *   <root>/.spool/<id>.json               root:slipway-web 1730: the group creates, never lists or removes
 *   <root>/.feed/.requests/<id>.json      root:slipway-web 0640: queued, running, done, refused, lost
 *
 * A request names the person it is for; the worker runs it only when that person may deploy
 * the app-env (allowGroups, or a dashboard admin where the env names none), under the same
 * lock and queue as `sudo deploy`, recorded as `<person> (dashboard)`.
 */
import { constants } from 'node:fs';
import { open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { checkRefName, splitTarget } from '../config/names.js';
import { feedDir } from './index.js';

export const SPOOL_DIR = '.spool';
export const REQUEST_ID = /^[0-9a-f]{32}$/;
/** A request file is small: anything larger is not one. */
export const REQUEST_MAX_BYTES = 4096;
export const PERSON = /^[a-z_][a-z0-9_.-]{0,31}$/;
export const RELEASE_ID = /^r[1-9]\d{0,8}$/;

export function spoolDir(root: string): string {
  return join(root, SPOOL_DIR);
}

export function statusDir(root: string): string {
  return join(feedDir(root), '.requests');
}

const ref = z.string().refine((r) => checkRefName(r) === undefined, 'not a valid git ref name');

export const requestSchema = z.strictObject({
  v: z.literal(1),
  id: z.string().regex(REQUEST_ID),
  action: z.enum(['deploy', 'rollback', 'sync']),
  target: z.string().max(100).refine((t) => splitTarget(t) !== undefined, 'not an <app>-<env>'),
  person: z.string().regex(PERSON, 'not a valid unix user name'),
  /** How the person asked: a page's button, the JSON API, or a signed webhook. */
  via: z.enum(['dashboard', 'api', 'webhook']),
  /** deploy: the exact revision; none is the branch head. */
  revision: ref.optional(),
  /** rollback: the release to go back to; none is the one live before. */
  to: z.string().regex(RELEASE_ID, 'a release id such as r12').optional(),
  requested: z.iso.datetime(),
}).refine((r) => r.action === 'deploy' || r.revision === undefined, { message: 'only a deploy takes a revision', path: ['revision'] })
  .refine((r) => r.action === 'rollback' || r.to === undefined, { message: 'only a rollback takes a release to go back to', path: ['to'] });

export type DeployRequest = z.output<typeof requestSchema>;

export type RequestState = 'queued' | 'running' | 'done' | 'refused' | 'lost';

/** What the worker says of a request. */
export interface RequestStatus {
  v: 1;
  id: string;
  state: RequestState;
  /** Set once the request was read and checked. */
  target?: string;
  action?: DeployRequest['action'];
  person?: string;
  via?: DeployRequest['via'];
  revision?: string;
  to?: string;
  requested?: string;
  updated: string;
  /** The worker's process, so a status whose worker died can be told from one still going. */
  worker: number;
  exitCode?: number;
  error?: string;
}

/**
 * The HTTP process's one write: a new request file, never an existing one, never through a
 * link. Written under a name the worker leaves alone, then renamed, so it is never read half
 * written.
 */
export async function writeRequest(root: string, request: DeployRequest): Promise<void> {
  const file = join(spoolDir(root), `${request.id}.json`);
  const partial = `${file}.partial`;
  const fh = await open(partial, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    await fh.writeFile(`${JSON.stringify(request)}\n`);
  } finally {
    await fh.close();
  }
  // the id is fresh and random; in the sticky spool a rename can never replace another's file
  await rename(partial, file);
}

/** The worker's answer to a request, as the dashboard reads it; undefined for none yet. */
export async function readStatus(root: string, id: string): Promise<RequestStatus | undefined> {
  if (!REQUEST_ID.test(id)) return undefined;
  try {
    return JSON.parse(await readFile(join(statusDir(root), `${id}.json`), 'utf8')) as RequestStatus;
  } catch {
    return undefined;
  }
}
