/**
 * Where Tandem's own files are (package.json, bin/, configs/): the nearest directory above this
 * module that holds a package.json. The same walk finds it from the sources (src/util/), from the
 * built CLI (dist/, whose chunks sit one level down) and from a global install.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | null = null;

export function packageRoot(): string {
  if (root !== null) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
  return (root = dir);
}
