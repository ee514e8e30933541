/**
 * The admin node's layout, known only here:
 *   <root>/<env>/src/<app>      the source checkout (update)
 *   <root>/<env>/www/<app>      the www tree, a git repo: the release store
 *   <root>/<env>/private/<app>  private settings overlaid on every release
 *   <root>/<env>/state/<app>    Slipway's own working files (export tree, lock)
 */
import { join } from 'node:path';

export interface AdminPaths {
  src: string;
  www: string;
  private: string;
  state: string;
  /** The tree of the release being shipped, checked out from the store. */
  export: string;
  /** A second checkout of the store, for comparing hosts without moving the export under a deploy. */
  verify: string;
}

export const DEFAULT_ROOT = '/data';

export function adminPaths(root: string, env: string, app: string, privateDir?: string): AdminPaths {
  const state = join(root, env, 'state', app);
  return {
    src: join(root, env, 'src', app),
    www: join(root, env, 'www', app),
    private: privateDir ?? join(root, env, 'private', app),
    state,
    export: join(state, 'export'),
    verify: join(state, 'verify'),
  };
}
