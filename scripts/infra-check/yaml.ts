/** js-yaml (already installed: mocha depends on it), typed as far as these checks use it. */
import { createRequire } from 'node:module';

const jsYaml = createRequire(import.meta.url)('js-yaml') as {
  load(text: string): unknown;
  loadAll(text: string): unknown[];
};

export function loadYaml<T>(text: string): T {
  return jsYaml.load(text) as T;
}

export function loadAllYaml<T>(text: string): T[] {
  return jsYaml.loadAll(text) as T[];
}
