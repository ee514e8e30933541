/**
 * The generic web cluster most apps share: its hosts per env and how to reach
 * them. Files starting with "_" are not apps; apps import what they need.
 */
export const genericSsh = {
  user: 'root',
  key: '/root/.ssh/deploy_ed25519',
  knownHosts: '/etc/slipway/known_hosts',
};

const cluster = (env: string, count: number) =>
  Array.from({ length: count }, (_, i) => `generic${i + 1}.${env}.webapp.phx1.example.com`);

export const genericEnvs = {
  dev: { hosts: cluster('dev', 2) },
  stage: { hosts: cluster('stage', 2) },
  prod: { hosts: cluster('prod', 6), parallel: 10 },
};
