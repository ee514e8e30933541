/**
 * A release is a commit in the store, tagged `r<N>`. Its facts travel in the
 * commit message as git trailers, so they survive with the repository.
 */
export interface Release {
  /** `r42`: what operators type and read. Never reused: numbers only grow. */
  id: string;
  number: number;
  commit: string;
  date: string;
  deployer: string;
  source?: string;
  branch?: string;
  submodules: { path: string; sha: string }[];
  privateFiles: string[];
  build?: string;
}

export const RELEASE_TAG = /^r([1-9][0-9]{0,8})$/;

export function releaseId(n: number): string {
  return `r${n}`;
}

export interface ReleaseFacts {
  app: string;
  env: string;
  deployer: string;
  source: string;
  branch?: string;
  subject: string;
  submodules: { path: string; sha: string }[];
  privateFiles: string[];
  build?: string;
}

/** The commit message of a release: a subject, then one trailer per fact. */
export function releaseMessage(id: string, f: ReleaseFacts): string {
  const trailers = [
    `Deployed-By: ${f.deployer}`,
    `Source-Revision: ${f.source}`,
    ...(f.branch ? [`Source-Branch: ${f.branch}`] : []),
    `Source-Subject: ${oneLine(f.subject)}`,
    ...f.submodules.map((s) => `Submodule: ${s.sha} ${s.path}`),
    ...f.privateFiles.map((p) => `Private-File: ${oneLine(p)}`),
    ...(f.build ? [`Build: ${oneLine(f.build)}`] : []),
  ];
  return `Release ${id} of ${f.app}-${f.env}\n\n${trailers.join('\n')}\n`;
}

function oneLine(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\x00-\x1f\x7f]+/g, ' ').trim();
}

/** Parse `Key: value` trailer lines into a release. */
export function parseTrailers(lines: string): Pick<Release, 'deployer' | 'source' | 'branch' | 'submodules' | 'privateFiles' | 'build'> {
  const out: ReturnType<typeof parseTrailers> = { deployer: 'unknown', submodules: [], privateFiles: [] };
  for (const line of lines.split('\n')) {
    const at = line.indexOf(': ');
    if (at < 0) continue;
    const key = line.slice(0, at);
    const value = line.slice(at + 2);
    if (key === 'Deployed-By') out.deployer = value;
    else if (key === 'Source-Revision') out.source = value;
    else if (key === 'Source-Branch') out.branch = value;
    else if (key === 'Build') out.build = value;
    else if (key === 'Private-File') out.privateFiles.push(value);
    else if (key === 'Submodule') {
      const [sha, ...path] = value.split(' ');
      if (sha) out.submodules.push({ sha, path: path.join(' ') });
    }
  }
  return out;
}
