/**
 * Reads a YAML file and keeps the positions of its nodes, so that every later error (a bad value,
 * an unknown key, a missing variable) can name the file, line and column it comes from.
 */
import { readFileSync } from 'node:fs';
import { isMap, isPair, isScalar, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { ConfigError } from './config-error.ts';

export type KeyPath = ReadonlyArray<PropertyKey>;

export interface YamlFile {
  /** The path as the user gave it (used in messages). */
  path: string;
  doc: Document;
  lineCounter: LineCounter;
  /** The plain data of the document. */
  data: unknown;
}

/** Aliases a document may expand (yaml's guard against alias bombs; plenty for any config). */
export const MAX_ALIAS_COUNT = 100;

export function parseYaml(text: string, path: string): YamlFile {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const err = doc.errors[0];
  if (err) {
    const pos = lineCounter.linePos(err.pos[0]);
    const reason = err.message.split('\n')[0]?.replace(/ at line \d+, column \d+:?$/, '') ?? 'invalid YAML';
    throw new ConfigError([{
      file: path, line: pos.line, col: pos.col, message: `this is not valid YAML (${reason})`,
      fix: 'check the indentation and quoting on that line; YAML uses spaces, not tabs, and `key: value` pairs.',
    }]);
  }
  let data: unknown;
  try {
    // maxAliasCount bounds what aliases may expand to (an "alias bomb" would exhaust memory).
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (e) {
    if (!(e instanceof ReferenceError)) throw e;
    throw new ConfigError([{
      file: path, line: 1, col: 1,
      message: `YAML aliases (*name) here expand beyond ${MAX_ALIAS_COUNT} copies (${e.message.toLowerCase()})`,
      fix: 'write the values out, or use fewer nested aliases; a Tandem config needs very few.',
    }]);
  }
  return { path, doc, lineCounter, data };
}

/** Reads `path`; messages name it as `displayPath` (the path as the user wrote it). */
export function readYamlFile(path: string, displayPath = path): YamlFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ConfigError([{
      file: displayPath,
      message: code === 'ENOENT' ? 'no such file' : `cannot read the file (${code ?? String(e)})`,
      fix: code === 'ENOENT' ? 'check the path given to --config (relative paths start from the current directory).' : 'check its permissions.',
    }]);
  }
  return parseYaml(text, displayPath);
}

function position(file: YamlFile, node: Node | undefined | null): { line: number; col: number } | undefined {
  const offset = node?.range?.[0];
  return offset === undefined ? undefined : file.lineCounter.linePos(offset);
}

/**
 * The position of the value at `path`; for a key that is absent, the position of the nearest
 * existing parent; with `keyOf`, the position of that key inside the map at `path`.
 */
export function locate(file: YamlFile, path: KeyPath, keyOf?: string): { line: number; col: number } | undefined {
  const segments = path.map((p) => (typeof p === 'symbol' ? String(p) : p));
  for (let depth = segments.length; depth >= 0; depth--) {
    const node = depth === 0 ? file.doc.contents : file.doc.getIn(segments.slice(0, depth), true);
    if (!node || typeof node !== 'object') continue;
    if (keyOf !== undefined && depth === segments.length && isMap(node)) {
      const pair = node.items.find((it) => isPair(it) && isScalar(it.key) && String(it.key.value) === keyOf);
      if (pair && isPair(pair)) return position(file, pair.key as Node);
    }
    const pos = position(file, node as Node);
    if (pos) return pos;
  }
  return { line: 1, col: 1 };
}
