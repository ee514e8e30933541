/**
 * The Ansible inventory reader (src/inventory): INI, YAML and dynamic inventories as Ansible's
 * docs write them, Ansible's variable precedence, host patterns, and every value Slipway uses
 * checked with a message naming the file, the line and the host. test/integration/
 * inventory-ansible.test.ts holds the same fixtures against Ansible itself.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConfigError } from '../../src/errors.js';
import { allHostFacts, hostFacts, type Inventory, loadInventory, selectHosts } from '../../src/inventory/index.js';
import { iniValue } from '../../src/inventory/literal.js';
import { expandRanges, splitPort } from '../../src/inventory/ranges.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'inventory');
const INI = join(FIXTURES, 'hosts.ini');
const YAML = join(FIXTURES, 'hosts.yml');
const SCRIPT = join(FIXTURES, 'inventory.sh');

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'slipway-inventory-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

let written = 0;
/** An inventory file in the temp dir; its path. */
function write(text: string, name = `inv${++written}.ini`): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

/** The ConfigError a promise or function ends in; fails the test otherwise. */
async function configError(run: () => unknown): Promise<string> {
  try {
    await run();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `a ConfigError, not ${String(err)}`);
    return err.message;
  }
  assert.fail('expected a ConfigError');
}

const names = (inv: Inventory, pattern: string) => selectHosts(inv, pattern).map((h) => h.name);
const host = (inv: Inventory, name: string) => inv.hosts.find((h) => h.name === name) ?? assert.fail(`no host ${name}`);

const ALL_HOSTS = [
  'mail.example.com',
  'web01.example.com',
  'web02.example.com',
  'web03.example.com',
  'web04.example.com',
  'foo.example.com',
  'jumper',
  'worker01.example.com',
  'worker03.example.com',
  'worker05.example.com',
  'db-a.example.com',
  'db-b.example.com',
  'db-c.example.com',
];

describe('the INI fixture (hosts.ini)', () => {
  let inv: Inventory;
  before(async () => {
    inv = await loadInventory({ file: INI });
  });

  it('expands ranges (leading zeros, steps, letters) and keeps inventory order, each host once', () => {
    assert.deepEqual(
      inv.hosts.map((h) => h.name),
      ALL_HOSTS,
    );
  });

  it('has the implicit groups all and ungrouped, and each host the groups it is in, transitively', () => {
    assert.deepEqual([...inv.groups.keys()].slice(0, 2), ['all', 'ungrouped']);
    assert.deepEqual(inv.groups.get('ungrouped')!.hosts, ['mail.example.com']);
    assert.deepEqual(inv.groups.get('phx1'), { hosts: [], children: ['web_phx1', 'workers_phx1'] });
    assert.deepEqual(inv.groups.get('all')!.children, ['ungrouped', 'webservers', 'workers', 'phx1', 'atl1']);
    // all first, then in the order their variables apply: by depth, then by name
    assert.deepEqual(host(inv, 'web01.example.com').groups, ['all', 'phx1', 'webservers', 'web_phx1']);
    assert.deepEqual(host(inv, 'mail.example.com').groups, ['all', 'ungrouped']);
  });

  it('merges variables as Ansible does: all < parent groups < child groups < host, same depth by group name', () => {
    const tier = Object.fromEntries(inv.hosts.map((h) => [h.name, h.vars.tier]));
    assert.equal(tier['mail.example.com'], 'all');
    // webservers and phx1 are both one below all: the later name (webservers) wins
    assert.equal(tier['web01.example.com'], 'webservers');
    assert.equal(tier['worker01.example.com'], 'phx1');
    // web_atl1, a child of atl1, wins over atl1 and webservers
    assert.equal(tier['web03.example.com'], 'web_atl1');
    assert.equal(tier['db-b.example.com'], 'atl1');
    assert.equal(host(inv, 'foo.example.com').vars.ansible_user, 'admin');
    assert.equal(host(inv, 'web01.example.com').vars.ansible_user, 'deploy');
  });

  it('types values as Ansible does: ports are numbers, quoted lists are lists, comments and quotes as shlex reads them', () => {
    assert.equal(host(inv, 'web01.example.com').vars.ansible_port, 22);
    assert.equal(host(inv, 'web03.example.com').vars.ansible_port, 2200);
    // a host:port on the host line is a host variable: it wins over web_atl1's 2200
    assert.equal(host(inv, 'foo.example.com').vars.ansible_port, 2222);
    assert.equal(host(inv, 'jumper').vars.ansible_port, 5555);
    assert.deepEqual(host(inv, 'foo.example.com').vars.slipway_roles, ['web', 'canary']);
    assert.equal(host(inv, 'worker03.example.com').vars.slipway_roles, 'worker,cron');
    assert.equal(host(inv, 'jumper').vars.note, 'two words # not a comment');
  });

  it('says where each host and each variable comes from', () => {
    const foo = host(inv, 'foo.example.com');
    assert.equal(foo.source, `${INI}:9`);
    assert.equal(foo.varSources.ansible_port, `${INI}:9`);
    assert.equal(foo.varSources.datacenter, `${INI}:54`);
    assert.equal(host(inv, 'web01.example.com').varSources.ansible_port, `${INI}:50`);
  });

  it('gives the facts Slipway uses', () => {
    assert.deepEqual(hostFacts(host(inv, 'jumper')), {
      name: 'jumper',
      address: '192.0.2.50',
      port: 5555,
      user: 'deploy',
      roles: ['web'],
      source: `${INI}:10`,
    });
    assert.deepEqual(hostFacts(host(inv, 'worker01.example.com')), {
      name: 'worker01.example.com',
      address: 'worker01.example.com',
      port: 22,
      user: 'deploy',
      datacenter: 'phx1',
      roles: ['worker', 'cron'],
      source: `${INI}:13`,
    });
    assert.equal(allHostFacts(inv.hosts).length, ALL_HOSTS.length);
  });
});

describe('the same fleet as YAML (hosts.yml) and as a dynamic inventory (inventory.sh)', () => {
  const summary = (inv: Inventory) =>
    inv.hosts.map((h) => ({ name: h.name, vars: h.vars, groups: [...h.groups].sort() })).sort((a, b) => (a.name < b.name ? -1 : 1));

  it('reads the YAML file to the same hosts, groups and variables, with YAML lines as sources', async () => {
    const [ini, yaml] = await Promise.all([loadInventory({ file: INI }), loadInventory({ file: YAML })]);
    assert.deepEqual(summary(yaml), summary(ini));
    assert.equal(host(yaml, 'foo.example.com').source, `${YAML}:15`);
    assert.equal(host(yaml, 'foo.example.com').varSources.ansible_user, `${YAML}:16`);
    assert.equal(host(yaml, 'web01.example.com').varSources.ansible_port, `${YAML}:31`);
  });

  it('reads the script output to the same hosts, groups and variables', async () => {
    const [ini, script] = await Promise.all([loadInventory({ file: INI }), loadInventory({ command: ['sh', SCRIPT] })]);
    assert.deepEqual(summary(script), summary(ini));
    assert.equal(host(script, 'jumper').source, `command sh ${SCRIPT}`);
  });
});

describe('host patterns', () => {
  let inv: Inventory;
  before(async () => {
    inv = await loadInventory({ file: INI });
  });

  it('all and * select every host, a group its hosts and its children’s, a name that host', () => {
    assert.deepEqual(names(inv, 'all'), ALL_HOSTS);
    assert.deepEqual(names(inv, '*'), ALL_HOSTS);
    assert.deepEqual(names(inv, 'phx1'), ['web01.example.com', 'web02.example.com', 'worker01.example.com', 'db-a.example.com']);
    assert.deepEqual(names(inv, 'jumper'), ['jumper']);
  });

  it('union (a:b, a,b), intersection (a:&b) and exclusion (a:!b), in inventory order', () => {
    assert.deepEqual(names(inv, 'workers_phx1:web_phx1'), ['web01.example.com', 'web02.example.com', 'worker01.example.com', 'db-a.example.com']);
    assert.deepEqual(names(inv, 'workers,mail.example.com'), [
      'mail.example.com',
      'worker01.example.com',
      'worker03.example.com',
      'worker05.example.com',
      'db-a.example.com',
      'db-b.example.com',
      'db-c.example.com',
    ]);
    assert.deepEqual(names(inv, 'webservers:&phx1'), ['web01.example.com', 'web02.example.com']);
    assert.deepEqual(names(inv, 'webservers:!atl1'), ['web01.example.com', 'web02.example.com', 'jumper']);
    // exclusions apply last, wherever they are written; alone they start from all
    assert.deepEqual(names(inv, '!atl1:webservers'), ['web01.example.com', 'web02.example.com', 'jumper']);
    assert.deepEqual(names(inv, '!atl1:!webservers'), ['mail.example.com', 'worker01.example.com', 'db-a.example.com']);
  });

  it('shell wildcards and ~regex match group and host names', () => {
    assert.deepEqual(names(inv, 'db-*'), ['db-a.example.com', 'db-b.example.com', 'db-c.example.com']);
    assert.deepEqual(names(inv, 'worker0[!1].example.com'), ['worker03.example.com', 'worker05.example.com']);
    assert.deepEqual(names(inv, 'w?b0?.example.com:&atl1'), ['web03.example.com', 'web04.example.com']);
    assert.deepEqual(names(inv, '~db-[ab]'), ['db-a.example.com', 'db-b.example.com']);
    // like Python's re.match, anchored at the start only
    assert.deepEqual(names(inv, '~(web|worker)0[13]'), ['web01.example.com', 'web03.example.com', 'worker01.example.com', 'worker03.example.com']);
    // web_* matches the groups web_phx1 and web_atl1
    assert.deepEqual(names(inv, 'web_*:!foo*'), ['web01.example.com', 'web02.example.com', 'web03.example.com', 'web04.example.com']);
  });

  it('refuses a pattern that matches nothing, or is malformed, with a clear message', async () => {
    const cases: [string, RegExp][] = [
      ['webserver', /^host pattern "webserver": "webserver" matches no group or host in .*hosts\.ini$/],
      ['webservers:&nosuch', /"nosuch" matches no group or host/],
      ['webservers:!webservers', /it selects no hosts/],
      ['', /it is empty/],
      [' , ', /it is empty/],
      ['webservers:&', /"&" names nothing/],
      ['~web(', /"~web\(" is not a valid regular expression/],
      ['webservers[0]', /subscripts such as \[0\] or \[1:3\] are not supported/],
      ['webservers[1:3]', /subscripts/],
    ];
    for (const [pattern, re] of cases) assert.match(await configError(() => selectHosts(inv, pattern)), re, pattern);
  });
});

describe('host ranges and host:port', () => {
  it('expands numbers with leading zeros and steps, letters, and several ranges', () => {
    assert.deepEqual(expandRanges('web[01:03].phx1', 'f:1'), ['web01.phx1', 'web02.phx1', 'web03.phx1']);
    assert.deepEqual(expandRanges('web[01:20:5]', 'f:1'), ['web01', 'web06', 'web11', 'web16']);
    assert.deepEqual(expandRanges('db-[a:f:2].example.com', 'f:1'), ['db-a.example.com', 'db-c.example.com', 'db-e.example.com']);
    assert.deepEqual(expandRanges('r[1:2]n[a:b]', 'f:1'), ['r1na', 'r1nb', 'r2na', 'r2nb']);
    assert.deepEqual(expandRanges('w[:2]', 'f:1'), ['w0', 'w1', 'w2']);
    assert.deepEqual(expandRanges('plain', 'f:1'), ['plain']);
  });

  it('refuses a bad range with file and line', async () => {
    const cases: [string, RegExp][] = [
      ['web[05:01]', /^f:7: host range \[05:01\] in web\[05:01\]: the range must not run backwards$/],
      ['web[a:9]', /^f:7: host range \[a:9\] in web\[a:9\]: a range is two numbers or two letters$/],
      ['web[f:a]', /must not run backwards/],
      ['web[1:]', /the range has no end/],
      ['web[01:5]', /leading zeros needs begin and end of the same length/],
      ['web[1:5:0]', /the step "0" is not a positive number/],
      ['web[1:2:3:4]', /a range is begin:end or begin:end:step/],
      ['web[1:99999]', /more than 10000 hosts/],
      ['web]1:2[', /no closing "\]"/],
    ];
    for (const [pattern, re] of cases) assert.match(await configError(() => expandRanges(pattern, 'f:7')), re, pattern);
  });

  it('splits a port off host names, addresses and ranges, but not off something that is no host', () => {
    assert.deepEqual(splitPort('badwolf.example.com:5309'), { host: 'badwolf.example.com', port: 5309 });
    assert.deepEqual(splitPort('web[01:03]:2222'), { host: 'web[01:03]', port: 2222 });
    assert.deepEqual(splitPort('[2001:db8::1]:22'), { host: '2001:db8::1', port: 22 });
    assert.deepEqual(splitPort('192.0.2.1:22'), { host: '192.0.2.1', port: 22 });
    assert.deepEqual(splitPort('2001:db8::1'), { host: '2001:db8::1' });
    assert.deepEqual(splitPort('bad$name:22'), { host: 'bad$name:22' });
  });
});

describe("INI values, typed as Ansible types them (Python's literal_eval, else text)", () => {
  it('reads numbers, booleans, None, quoted strings, lists, tuples and dicts', () => {
    const cases: [string, unknown][] = [
      ['22', 22],
      ['-3', -3],
      ['1_000', 1000],
      ['0x10', 16],
      ['1.5e3', 1500],
      ['.5', 0.5],
      ['True', true],
      ['False', false],
      ['None', null],
      ["'quoted'", 'quoted'],
      ['"a\\tb"', 'a\tb'],
      ["'a' 'b'", 'ab'],
      ["r'\\n'", '\\n'],
      ["['web', 'canary']", ['web', 'canary']],
      ["('a',)", ['a']],
      ['(5)', 5],
      ["{'a': 1, 'b': [None]}", { a: 1, b: [null] }],
      ["'a' # a comment", 'a'],
    ];
    for (const [text, value] of cases) assert.deepEqual(iniValue(text), value, text);
  });

  it('keeps anything else as text', () => {
    for (const text of ['01', '22x', 'true', 'none', 'web,worker', '10.0.0.1', '1.5.3', '$(id)', 'hello # c', '', "{'a'}", '1j', "b'x'", '9007199254740993', "'open"]) {
      assert.equal(iniValue(text), text, text);
    }
  });
});

describe('INI inventories', () => {
  it('reads comments, quoting and host vars as Ansible does', async () => {
    const inv = await loadInventory({
      file: write(
        [
          '; a comment',
          '# another',
          "h1 a='x y'#comment b=2",
          'h2 a="x\\"y" b=x\\ y c=a#b d=ignored',
          'h3 ansible_host=10.0.0.1   # trailing comment',
          "h5 a=$'x' b=\"$HOME\" c=\\$d",
          '[web.phx-1]  # dots and dashes kept in group names',
          'h4',
          '[web.phx-1:vars]',
          "greeting = 'hello' # comment",
          'plain = two words',
        ].join('\n'),
      ),
    });
    assert.deepEqual(host(inv, 'h1').vars, { a: 'x y' });
    assert.deepEqual(host(inv, 'h2').vars, { a: 'x"y', b: 'x y', c: 'a' });
    assert.deepEqual(host(inv, 'h3').vars, { ansible_host: '10.0.0.1' });
    // Python's shlex knows no $'…' quotes, and nothing is expanded
    assert.deepEqual(host(inv, 'h5').vars, { a: '$x', b: '$HOME', c: '$d' });
    assert.deepEqual(host(inv, 'h4').vars, { greeting: 'hello', plain: 'two words' });
    assert.deepEqual(host(inv, 'h4').groups, ['all', 'web.phx-1']);
  });

  it('takes a port only where a host first appears, and puts IPv6 hosts in brackets', async () => {
    const inv = await loadInventory({ file: write('[a]\nh1:2201\n[b]\nh1:2202\n[c]\n[2001:db8::1]:2222\n192.0.2.[1:2]:2200\n') });
    assert.equal(host(inv, 'h1').vars.ansible_port, 2201);
    assert.equal(host(inv, '2001:db8::1').vars.ansible_port, 2222);
    assert.equal(host(inv, '192.0.2.2').vars.ansible_port, 2200);
  });

  it('allows a group to be named in [x:children] before it is declared', async () => {
    const inv = await loadInventory({ file: write('[dc:children]\nweb\n[web]\nh1\n[other]\nh1\n[other:vars]\nv=other\n[web:vars]\nv=web\n') });
    assert.deepEqual(inv.groups.get('dc')!.children, ['web']);
    // web is deeper (all > dc > web) than other, so its value wins
    assert.equal(host(inv, 'h1').vars.v, 'web');
    assert.deepEqual(host(inv, 'h1').groups, ['all', 'dc', 'other', 'web']);
  });

  it('orders groups of one depth by ansible_group_priority before their names', async () => {
    const inv = await loadInventory({ file: write('[a]\nh1\n[a:vars]\nansible_group_priority=10\nv=a\n[b]\nh1\n[b:vars]\nv=b\n') });
    assert.equal(host(inv, 'h1').vars.v, 'a');
    assert.deepEqual(host(inv, 'h1').groups, ['all', 'b', 'a']);
    assert.equal('ansible_group_priority' in host(inv, 'h1').vars, false);
  });

  it('reports each parse error with file and line', async () => {
    const cases: [string, RegExp][] = [
      ['h1\nh2 a=\'unterminated\n', /:2: cannot read host line \(line ends while in a quoted string\): h2 a='unterminated$/],
      ['[web]\nh1\n[dc:children]\nweb\nnope\n', /:5: \[dc:children\] names a group that is not defined anywhere: nope$/],
      ['[web]\nh1\n[db:vars]\nx=1\n', /:3: \[db:vars\] is for a group that is not defined anywhere: db$/],
      ['[web]\n\n[web:hosts x]\n', /:3: invalid section \[web:hosts x\]/],
      ['[web:extra]\n', /:1: section \[web:extra\] has unknown type "extra"/],
      ['[web]\nh1 novalue\n', /:2: expected key=value host variable, got: novalue$/],
      ['[web:vars]\njust words\n[web]\n', /:2: expected key=value, got: just words$/],
      ['[web:children]\n$bad name\n', /:2: expected a group name, got: \$bad name$/],
      ['h1:\n', /:1: host h1:: a trailing ":" must be followed by a port$/],
      ['web[05:01]\n', /:1: host range \[05:01\] in web\[05:01\]: the range must not run backwards$/],
      ['\n\nweb[a:9]\n', /:3: host range \[a:9\]/],
      ['[a:children]\nb\n[b:children]\na\n', /:4: group "a" cannot be a child of "b": that makes a loop$/],
      ['---\nweb1\n', /:1: a host named "---": this looks like a YAML file$/],
    ];
    for (const [text, re] of cases) {
      const file = write(text);
      const message = await configError(() => loadInventory({ file }));
      assert.ok(message.startsWith(`${file}:`), message);
      assert.match(message, re, JSON.stringify(text));
    }
  });
});

describe('YAML inventories', () => {
  it('reads null hosts, a single host name, ranges in keys, host:port keys and YAML 1.1 values', async () => {
    const file = write(
      [
        'all:',
        '  hosts:',
        '    solo:',
        '  children:',
        '    web:',
        '      hosts: web9',
        '    db:',
        '      hosts:',
        '        db-[a:b].example.com:5432:',
        '          primary: yes',
        '          mode: 0755',
        '          day: 2024-01-01',
      ].join('\n'),
      'inventory.yaml',
    );
    const inv = await loadInventory({ file });
    assert.deepEqual(names(inv, 'all'), ['solo', 'web9', 'db-a.example.com', 'db-b.example.com']);
    assert.deepEqual(names(inv, 'ungrouped'), ['solo']);
    assert.deepEqual(host(inv, 'db-b.example.com').vars, { ansible_port: 5432, primary: true, mode: 493, day: '2024-01-01' });
    assert.equal(host(inv, 'db-b.example.com').varSources.mode, `${file}:11`);
  });

  it('reports YAML errors and shapes Ansible cannot use with file and line', async () => {
    const cases: [string, RegExp][] = [
      ['all:\n  hosts:\n    h1: {a: [1}\n', /:3: YAML: /],
      ['all:\n  hosts:\n    1234:\n', /:3: host pattern 1234 is not a string: put it in quotes$/],
      ['all:\n  hosts: [a, b]\n', /:2: group all: "hosts" must be a mapping$/],
      ['all:\n  children:\n    web:\n      host:\n        h1:\n', /:4: group web: unknown key "host" \(hosts, children or vars\)$/],
      ['all:\n  hosts:\n    h1: 5\n', /:3: host h1: expected a mapping of variables$/],
      ['plugin: amazon.aws.aws_ec2\nregions: [eu-west-1]\n', /:1: this is an inventory plugin configuration/],
      ['all:\n  hosts:\n    web[3:1]:\n', /:3: host range \[3:1\] in web\[3:1\]: the range must not run backwards$/],
      ['# nothing\n', /the YAML inventory is empty$/],
    ];
    for (const [text, re] of cases) {
      const file = write(text, `inv${++written}.yml`);
      const message = await configError(() => loadInventory({ file }));
      assert.ok(message.startsWith(file), message);
      assert.match(message, re, JSON.stringify(text));
    }
  });

  it('reads YAML content in a file without a YAML name, and INI otherwise', async () => {
    const yaml = await loadInventory({ file: write('all:\n  hosts:\n    h1:\n      a: 1\n', 'hosts') });
    assert.deepEqual(host(yaml, 'h1').vars, { a: 1 });
    const ini = await loadInventory({ file: write('h1 a=1\n', 'inventory') });
    assert.deepEqual(host(ini, 'h1').vars, { a: 1 });
  });
});

describe('inventory files that cannot be read', () => {
  it('names the file: missing, a directory, a script, not UTF-8', async () => {
    assert.match(await configError(() => loadInventory({ file: join(dir, 'nosuch') })), /nosuch: cannot read the inventory \(ENOENT\)$/);
    mkdirSync(join(dir, 'group_vars'), { recursive: true });
    assert.match(await configError(() => loadInventory({ file: join(dir, 'group_vars') })), /group_vars: is a directory/);
    assert.match(await configError(() => loadInventory({ file: SCRIPT })), /inventory\.sh:1: is a script; give it as \{ command: \[\.\.\.\] \}/);
    const latin1 = join(dir, 'latin1.ini');
    writeFileSync(latin1, Buffer.from([0x68, 0x31, 0x20, 0x61, 0x3d, 0xe9, 0x0a]));
    assert.match(await configError(() => loadInventory({ file: latin1 })), /latin1\.ini: is not UTF-8 text$/);
  });
});

describe('dynamic inventories', () => {
  it('asks --host <name> for each host when the listing has no _meta.hostvars', async () => {
    const script = 'case "$1" in --list) echo \'{"web": ["h1", "h2"], "db": {"hosts": ["h2"], "vars": {"v": "db"}}}\';; --host) echo "{\\"ansible_port\\": 22$(echo "$2" | tr -dc 0-9)}";; esac';
    const inv = await loadInventory({ command: ['sh', '-c', script, 'inventory'] });
    assert.deepEqual(host(inv, 'h1').vars, { ansible_port: 221 });
    assert.deepEqual(host(inv, 'h2').vars, { ansible_port: 222, v: 'db' });
  });

  it('stops a command that gives no answer in time, and what it started', async () => {
    const started = Date.now();
    const message = await configError(() => loadInventory({ command: ['sh', '-c', 'sleep 30 & wait', 'slow-inventory'], timeoutS: 0.3 }));
    assert.equal(message, "command sh -c 'sleep 30 & wait' slow-inventory --list: gave no answer within 0.3 s and was stopped");
    assert.ok(Date.now() - started < 5000, 'it did not wait for the sleep');
  });

  it('names the command when it fails, prints no JSON, too much, or the wrong shape', async () => {
    const cases: [string[], RegExp, number?][] = [
      [['sh', '-c', 'echo "cannot reach the CMDB" >&2; exit 1', 'cmdb'], /^command sh -c .* cmdb --list: exited 1: cannot reach the CMDB$/],
      [['sh', '-c', 'echo "<html>login</html>"', 'cmdb'], /^command sh -c .* cmdb --list: printed something that is not JSON/],
      [['sh', '-c', 'head -c 5000 /dev/zero', 'cmdb'], /^command sh -c .* cmdb --list: printed more than 1000 bytes$/, 1000],
      [['sh', '-c', 'echo \'{"web": {"hosts": "h1"}}\'', 'cmdb'], /^command sh -c .* cmdb: group web: "hosts" must be a list of host names$/],
      [['sh', '-c', 'echo \'["h1"]\'', 'cmdb'], /the output must be a JSON object of groups$/],
      [[join(dir, 'no-such-inventory')], /^command .*no-such-inventory --list: could not run/],
    ];
    for (const [command, re, maxBytes] of cases) {
      assert.match(await configError(() => loadInventory({ command, maxBytes })), re, command.join(' '));
    }
  });
});

describe('hostFacts: the values Slipway uses, checked', () => {
  /** The one-host inventory of `line` under [web]; the file. */
  async function facts(line: string): Promise<{ file: string; message: string }> {
    const file = write(`[web]\n${line}\n`);
    const inv = await loadInventory({ file });
    return { file, message: await configError(() => hostFacts(inv.hosts[0]!)) };
  }

  it('names file, line and host for each bad value', async () => {
    const cases: [string, string][] = [
      ['web03 ansible_port=22x', 'host web03: ansible_port "22x" is not a port from 1 to 65535'],
      ['web03:99999', 'host web03: ansible_port 99999 is not a port from 1 to 65535'],
      ['web03 ansible_port=70000', 'host web03: ansible_port 70000 is not a port from 1 to 65535'],
      ['web03 ansible_port=22.5', 'host web03: ansible_port 22.5 is not a port from 1 to 65535'],
      ['web03 ansible_user=Root!', 'host web03: ansible_user "Root!" is not a unix user name'],
      ['web03 ansible_user="[1]"', 'host web03: ansible_user [1] is not a string'],
      ['web03 ansible_host="{{ inventory_hostname }}.lan"', 'host web03: ansible_host "{{ inventory_hostname }}.lan" is a Jinja2 template, which Slipway does not render'],
      ['web03 datacenter="eu west"', 'host web03: datacenter "eu west" is not a datacenter name (letters, digits, "-" and "_")'],
      ['web03 slipway_roles="web,x;y"', 'host web03: slipway_roles: "x;y" is not a role name (letters, digits, "-" and "_")'],
      ['web03 slipway_roles="{\'a\': 1}"', 'host web03: slipway_roles {"a":1} is not a list of roles or a comma-separated string'],
    ];
    for (const [line, expected] of cases) {
      const { file, message } = await facts(line);
      assert.equal(message, `${file}:2: ${expected}`, line);
    }
  });

  it('refuses hostile host names and addresses: $(…), ;, newlines, ../, a leading -', async () => {
    const cases: [string, RegExp][] = [
      ['web$(id)', /host "web\$\(id\)": the inventory name contains a space, a quote or a shell metacharacter$/],
      ['web03 ansible_host="10.0.0.1;reboot"', /host web03: ansible_host "10\.0\.0\.1;reboot" contains a space, a quote or a shell metacharacter$/],
      ['web03 ansible_host="\'evil\\nhost\'"', /host web03: ansible_host "evil\\nhost" contains a control character$/],
      ['web03 ansible_host=../etc/passwd', /host web03: ansible_host "\.\.\/etc\/passwd" contains "\/"$/],
      ['web03 ansible_host=-oProxyCommand=x', /host web03: ansible_host "-oProxyCommand=x" starts with "-"$/],
      ['web03 ansible_host=`id`', /ansible_host "`id`" contains a space, a quote or a shell metacharacter$/],
      ['web03 ansible_host=a..b', /ansible_host "a\.\.b" is not a host name or IP address$/],
    ];
    for (const [line, re] of cases) assert.match((await facts(line)).message, re, line);
  });

  it('lets variables Slipway does not read hold anything', async () => {
    const file = write('[web]\nweb03 note="$(id); rm -rf / `x`" path=../../etc ansible_become_pass="a;b"\n');
    const inv = await loadInventory({ file });
    assert.deepEqual(hostFacts(inv.hosts[0]!), { name: 'web03', address: 'web03', roles: [], source: `${file}:2` });
  });

  it('prefers slipway_datacenter to datacenter, and the line of the group var that set a bad value', async () => {
    const file = write('[web]\nweb03 datacenter="not checked" slipway_datacenter=phx1\nweb04\n[web:vars]\nansible_user=bad$user\n');
    const inv = await loadInventory({ file });
    assert.equal(inv.hosts[0]!.vars.datacenter, 'not checked');
    assert.throws(() => hostFacts(inv.hosts[0]!), { message: `${file}:5: host web03: ansible_user "bad$user" is not a unix user name` });
    // every problem of every host at once
    assert.throws(() => allHostFacts(inv.hosts), (err: ConfigError) => err.problems.length === 2 && /host web04/.test(err.problems[1]!));
  });

  it('says a vault-encrypted value cannot be read', async () => {
    const file = write('all:\n  hosts:\n    web03:\n      ansible_host: !vault |\n        $ANSIBLE_VAULT;1.1;AES256\n        6162\n', 'vault.yml');
    const inv = await loadInventory({ file });
    assert.throws(() => hostFacts(inv.hosts[0]!), {
      message: `${file}:4: host web03: ansible_host is encrypted with ansible-vault, which Slipway cannot read`,
    });
  });
});
