/**
 * Validates a part of a YAML file against a zod schema and turns every zod issue into a
 * ConfigProblem with its position, the key path and a fix the user can apply.
 */
import type { z } from 'zod';
import { ConfigError, type ConfigProblem } from './config-error.ts';
import { locate, type KeyPath, type YamlFile } from './yaml-file.ts';

type Issue = z.core.$ZodIssue;

function dotted(path: KeyPath): string {
  return path.map((p) => (typeof p === 'number' ? `[${p}]` : String(p))).join('.').replace(/\.\[/g, '[');
}

function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'an empty value';
  if (typeof v === 'string') return `the text "${v}"`;
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${String(v)}`;
}

function valueAt(data: unknown, path: KeyPath): unknown {
  let cur: unknown = data;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[p];
  }
  return cur;
}

/** Edit distance, for "did you mean" hints on misspelt keys. */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
  }
  return d[a.length]![b.length]!;
}

function closest(word: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const dd = distance(word.toLowerCase(), c.toLowerCase());
    if (dd < bestD) { bestD = dd; best = c; }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

/** The keys a strict object schema accepts at `path`, for unknown-key hints. */
function knownKeys(schema: z.ZodType, path: KeyPath): string[] {
  let cur: unknown = schema;
  const unwrap = (s: unknown): unknown => {
    let x = s as { def?: { type?: string; innerType?: unknown; in?: unknown; schema?: unknown } };
    for (let i = 0; i < 10 && x?.def; i++) {
      const t = x.def.type;
      if (t === 'optional' || t === 'default' || t === 'nullable' || t === 'prefault' || t === 'readonly' || t === 'catch') x = x.def.innerType as typeof x;
      else if (t === 'pipe') x = x.def.in as typeof x;
      else break;
    }
    return x;
  };
  cur = unwrap(cur);
  for (const p of path) {
    const shape = (cur as { shape?: Record<string, unknown> })?.shape;
    if (!shape || typeof p !== 'string' || !(p in shape)) return [];
    cur = unwrap(shape[p]);
  }
  const shape = (cur as { shape?: Record<string, unknown> })?.shape;
  return shape ? Object.keys(shape) : [];
}

function problemFor(file: YamlFile, issue: Issue, base: KeyPath, schema: z.ZodType): ConfigProblem[] {
  const relPath = issue.path as KeyPath;
  const path = [...base, ...relPath];
  const value = valueAt(file.data, path);
  const at = (p: KeyPath, keyOf?: string) => ({ file: file.path, ...locate(file, p, keyOf) });
  switch (issue.code) {
    case 'unrecognized_keys': {
      const allowed = knownKeys(schema, relPath);
      return issue.keys.map((k) => {
        const guess = closest(k, allowed);
        return {
          ...at(path, k),
          keyPath: dotted([...path, k]),
          message: `unknown key "${k}"`,
          fix: guess
            ? `did you mean "${guess}"? Rename or remove it.`
            : `remove it${allowed.length ? `; the keys allowed here are: ${allowed.join(', ')}` : ''}.`,
        };
      });
    }
    case 'invalid_type': {
      if (value === undefined) {
        const key = String(path[path.length - 1]);
        return [{
          ...at(path.slice(0, -1)),
          keyPath: dotted(path),
          message: `the required key "${key}" is missing`,
          fix: `add "${key}:" with ${issue.expected === 'object' ? 'its section' : `a ${issue.expected}`} here.`,
        }];
      }
      return [{ ...at(path), keyPath: dotted(path), message: `expected a ${issue.expected}, found ${describeValue(value)}`, fix: `write a ${issue.expected} here.` }];
    }
    case 'too_small':
    case 'too_big': {
      const limit = issue.code === 'too_small' ? issue.minimum : issue.maximum;
      const inclusive = issue.inclusive !== false;
      const word = issue.code === 'too_small' ? (inclusive ? 'at least' : 'above') : inclusive ? 'at most' : 'below';
      const what = issue.origin === 'string' ? 'characters' : issue.origin === 'array' ? 'items' : '';
      return [{
        ...at(path),
        keyPath: dotted(path),
        message: `${JSON.stringify(value)} is out of range: it must be ${word} ${String(limit)}${what ? ` ${what}` : ''}${issue.message && !issue.message.startsWith('Too') ? ` (${issue.message})` : ''}`,
        fix: `use a value ${word} ${String(limit)}.`,
      }];
    }
    case 'invalid_value':
      return [{
        ...at(path), keyPath: dotted(path),
        message: `${describeValue(value)} is not allowed`,
        fix: `use one of: ${issue.values.map((v) => String(v)).join(', ')}.`,
      }];
    case 'invalid_union': {
      const disc = (issue as { discriminator?: string; options?: unknown[] }).discriminator;
      const options = (issue as { options?: unknown[] }).options;
      if (disc && options) {
        return [{ ...at(path), keyPath: dotted(path), message: `${describeValue(value)} is not a known ${disc}`, fix: `use one of: ${options.map(String).join(', ')}.` }];
      }
      return [{ ...at(path), keyPath: dotted(path), message: 'this value matches none of the accepted forms', fix: 'see the configuration reference in the README.' }];
    }
    case 'invalid_format':
      return [{ ...at(path), keyPath: dotted(path), message: `${describeValue(value)} is not a valid ${issue.format}`, fix: issue.message }];
    default:
      return [{ ...at(path), keyPath: dotted(path), message: issue.message }];
  }
}

/** Parses `data` (found at `base` in `file`) with `schema`, or throws a ConfigError with every problem. */
export function validate<S extends z.ZodType>(file: YamlFile, schema: S, data: unknown, base: KeyPath = []): z.output<S> {
  const result = schema.safeParse(data);
  if (result.success) return result.data;
  const problems = result.error.issues.flatMap((issue) => problemFor(file, issue, base, schema));
  throw new ConfigError(problems);
}
