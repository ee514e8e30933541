/** What app files import: `import { defineApp } from 'slipway'`. */
export { defineApp } from './define.js';
export type { AppInput, TaskContext, TaskFunction } from './schema.js';
