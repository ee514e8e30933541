/**
 * A typical Django app on the generic cluster: vendored libraries in a git
 * submodule, assets compressed and the database migrated on the admin node
 * before the release is cut. Private settings (settings_local.py) and the
 * .env for tasks live in <root>/<env>/private/caseconductor/.
 */
import { defineApp } from 'slipway';
import { genericEnvs, genericSsh } from './_generic.js';

export default defineApp({
  repo: 'https://github.com/mozilla/caseconductor-platform.git',
  branch: 'master',
  tasks: [
    { name: 'compress assets', run: ['python', 'manage.py', 'collectstatic', '--noinput'] },
    { name: 'migrate database', run: ['python', 'manage.py', 'migrate', '--noinput'] },
  ],
  exclude: ['*.pyc', '/docs/', '/requirements/dev.txt'],
  ssh: genericSsh,
  envs: {
    ...genericEnvs,
    // prod follows the release branch; dev and stage follow master
    prod: { ...genericEnvs.prod, branch: 'release' },
  },
});
