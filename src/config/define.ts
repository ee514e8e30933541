import type { AppInput } from './schema.js';

/**
 * Describe an app. The identity function, typed, so editors complete and check
 * app files; validation happens when the file is loaded.
 */
export function defineApp(app: AppInput): AppInput {
  return app;
}
