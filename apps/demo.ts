/**
 * The demo app that `make demo` deploys to a 3-host loopback fleet.
 * Everything lives under $SLIPWAY_DEMO_DIR (default /tmp/slipway-demo).
 */
import { defineApp } from 'slipway';

const demo = process.env.SLIPWAY_DEMO_DIR ?? '/tmp/slipway-demo';
const net = process.env.SLIPWAY_DEMO_NET ?? '127.0.1';

export default defineApp({
  repo: `${demo}/repos/demo.git`,
  branch: 'main',
  // the demo's submodule is a local path, which git refuses by default
  gitConfig: { 'protocol.file.allow': 'always' },
  tasks: [
    { name: 'compress css', run: ['sh', '-c', 'cat css/*.css | tr -s " \\n" " " > static/site.min.css'] },
    {
      name: 'stamp asset version',
      run: async ({ run, vars }) => {
        // ASSET_SALT comes from the private .env and is never printed
        if (!vars.ASSET_SALT) throw new Error('ASSET_SALT missing from the private .env');
        await run(['sh', '-c', 'git rev-parse --short HEAD > static/VERSION']);
      },
    },
  ],
  ssh: { key: `${demo}/fleet/clientkey`, knownHosts: `${demo}/fleet/known_hosts` },
  envs: {
    prod: {
      hosts: [
        { name: 'web1', address: `${net}.1` },
        { name: 'web2', address: `${net}.2` },
        { name: 'web3', address: `${net}.3` },
      ],
    },
  },
});
