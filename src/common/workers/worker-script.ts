import { existsSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

const found = new Map<string, string | null>();

/**
 * The compiled entry `file` of a worker thread that lives in the directory `dir` (the caller's `__dirname`):
 * beside the caller in the build; under the TypeScript test runner (`dir` in src/), the build's copy in dist/.
 * Null when neither exists. Looked up once per file.
 */
export function workerScript(dir: string, file: string): string | null {
  const key = join(dir, file);
  let script = found.get(key);
  if (script === undefined) {
    const root = resolve(__dirname, '../../..');
    const built = join(root, 'dist', relative(root, dir), file);
    script = existsSync(key) ? key : existsSync(built) ? built : null;
    found.set(key, script);
  }
  return script;
}
