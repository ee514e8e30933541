// A fleet whose hosts live in network namespaces, in datacenters joined by bridges, every link
// shaped with tc tbf (bandwidth only, no latency): a wrapper around test/fleet/netfleet.sh,
// which describes the topology. Needs root. It is a `Fleet` (test/support/fleet.ts): the same
// hosts (name, address, dataDir, httpUrl), key and known_hosts, plus each host's datacenter and
// namespace, and the links' byte counters.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { type Fleet, type FleetHost, upFleetScript } from './fleet.js';

export interface NetFleetHost extends FleetHost {
  /** dc1, dc2, … (hosts are dealt to datacenters in turn: web1 → dc1, web2 → dc2, …) */
  datacenter: string;
  /** the host's network namespace (under /run/netns): `nsenter --net=/run/netns/<netns>` runs a command as on the host's network */
  netns: string;
}

export interface NetFleetOptions {
  dir: string;
  /** datacenters (default 4) */
  dcs?: number;
  /** hosts (default 100) */
  hosts?: number;
  /** tc rates: `1gbit`, `50mbit`, … (defaults: admin uplink 1gbit, DC uplinks 10gbit, host links 1gbit) */
  adminRate?: string;
  dcRate?: string;
  hostRate?: string;
  /** a private /16 as two octets (default 10.213) */
  prefix?: string;
  /** start each host's http server on 8080 (default true) */
  http?: boolean;
  /** seconds `up` waits for the hosts (default 60) */
  timeout?: number;
}

/** Bytes that crossed a DC uplink, each way. */
export interface UplinkBytes {
  /** from the core into the datacenter (what a deploy from the admin node sends it) */
  down: number;
  /** from the datacenter to the core */
  up: number;
}

export interface NetFleet extends Fleet {
  hosts: NetFleetHost[];
  /** the run id: every namespace and link of this fleet is named sw<id>… */
  id: string;
  /** the fabric's namespace (bridges and uplinks) */
  fabricNetns: string;
  /** the admin node's address on the fleet's network (in the root namespace) */
  adminAddress: string;
  datacenters: string[];
  rates: { admin: string; dc: string; host: string };
  /** shaping actually in place, for reports */
  shaping: string;
  /** bytes the admin node has sent into the fleet (tx of its uplink's root-side end) */
  adminEgressBytes(): Promise<number>;
  /** bytes the admin node has received from the fleet */
  adminIngressBytes(): Promise<number>;
  /** bytes across datacenter `dc`'s uplink (`dc1`, … or 1, …), each way */
  dcUplinkBytes(dc: string | number): Promise<UplinkBytes>;
  /** run a command on host `name`'s network (not its mount namespace: its /data is dataDir here) */
  inNetns(name: string, cmd: string, args: string[]): ReturnType<typeof execa>;
}

const script = fileURLToPath(new URL('../fleet/netfleet.sh', import.meta.url));

/** Hosts as an app file's `hosts` entries (TypeScript source), each with its datacenter. */
export function hostEntries(hosts: readonly NetFleetHost[]): string {
  return hosts.map((h) => `{ name: '${h.name}', address: '${h.address}', datacenter: '${h.datacenter}' }`).join(', ');
}

/** A tc rate (`1gbit`, `50mbit`) in bits per second. */
export function rateBits(rate: string): number {
  const m = /^(\d+)(bit|kbit|mbit|gbit)$/.exec(rate);
  if (!m) throw new Error(`rate ${JSON.stringify(rate)}: expected a whole number and bit, kbit, mbit or gbit (like 1gbit)`);
  return Number(m[1]) * { bit: 1, kbit: 1e3, mbit: 1e6, gbit: 1e9 }[m[2] as 'bit' | 'kbit' | 'mbit' | 'gbit'];
}

export async function startNetFleet(opts: NetFleetOptions): Promise<NetFleet> {
  if (process.getuid?.() !== 0) throw new Error('the netns fleet needs root (network and mount namespaces, tc, sshd on port 22): run as root');
  const rates = { admin: opts.adminRate ?? '1gbit', dc: opts.dcRate ?? '10gbit', host: opts.hostRate ?? '1gbit' };
  for (const r of Object.values(rates)) rateBits(r);
  const env: Record<string, string> = {
    NETFLEET_DIR: opts.dir,
    NETFLEET_DCS: String(opts.dcs ?? 4),
    NETFLEET_HOSTS: String(opts.hosts ?? 100),
    NETFLEET_ADMIN_RATE: rates.admin,
    NETFLEET_DC_RATE: rates.dc,
    NETFLEET_HOST_RATE: rates.host,
    NETFLEET_HTTP: opts.http === false ? '0' : '1',
    NETFLEET_TIMEOUT: String(opts.timeout ?? 60),
  };
  if (opts.prefix) env.NETFLEET_PREFIX = opts.prefix;
  const { run, controls } = await upFleetScript(script, env);

  const id = (await readFile(join(opts.dir, 'id'), 'utf8')).trim();
  const hosts = (await run('hosts'))
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line): NetFleetHost => {
      const [name = '', address = '', datacenter = ''] = line.trim().split(/\s+/);
      return { name, address, datacenter, netns: `sw${id}-${name}`, dataDir: join(opts.dir, 'hosts', name, 'data'), httpUrl: `http://${address}:8080` };
    });
  const fabricNetns = `sw${id}-fab`;
  const adminAddress = `${opts.prefix ?? '10.213'}.0.1`;
  const datacenters = [...new Set(hosts.map((h) => h.datacenter))].sort((a, b) => Number(a.slice(2)) - Number(b.slice(2)));

  const sysCounter = async (iface: string, which: 'tx_bytes' | 'rx_bytes') => Number((await readFile(`/sys/class/net/${iface}/statistics/${which}`, 'utf8')).trim());
  /** tx bytes of links in the fabric namespace (this process's /sys shows the root namespace only). */
  const fabricTx = async (ifaces: string[]): Promise<number[]> => {
    const { stdout } = await execa('ip', ['-n', fabricNetns, '-s', '-j', 'link', 'show']);
    const links = JSON.parse(stdout) as { ifname: string; stats64?: { tx: { bytes: number } } }[];
    return ifaces.map((name) => {
      const l = links.find((x) => x.ifname === name);
      if (!l?.stats64) throw new Error(`no link ${name} in ${fabricNetns}`);
      return l.stats64.tx.bytes;
    });
  };

  return {
    dir: opts.dir,
    id,
    hosts,
    fabricNetns,
    adminAddress,
    datacenters,
    rates,
    shaping: `tc tbf (bandwidth only, no added latency: netem is not used): admin uplink ${rates.admin}, DC uplinks ${rates.dc}, host links ${rates.host}, each link shaped both ways`,
    knownHosts: join(opts.dir, 'known_hosts'),
    clientKey: join(opts.dir, 'clientkey'),
    adminEgressBytes: () => sysCounter(`sw${id}a0`, 'tx_bytes'),
    adminIngressBytes: () => sysCounter(`sw${id}a0`, 'rx_bytes'),
    async dcUplinkBytes(dc) {
      const k = typeof dc === 'number' ? dc : Number(/^dc(\d+)$/.exec(dc)?.[1]);
      if (!(k >= 1 && datacenters.includes(`dc${k}`))) throw new Error(`no datacenter ${String(dc)} (have ${datacenters.join(', ')})`);
      // u<k> is the core's end (its egress goes into the DC), v<k> the DC's end
      const [down, up] = await fabricTx([`sw${id}u${k}`, `sw${id}v${k}`]);
      return { down: down!, up: up! };
    },
    inNetns(name, cmd, args) {
      const h = hosts.find((x) => x.name === name);
      if (!h) throw new Error(`no host ${name}`);
      return execa('nsenter', [`--net=/run/netns/${h.netns}`, '--', cmd, ...args]);
    },
    ...controls,
  };
}
