/**
 * A strict parser of the Prometheus text exposition format (version 0.0.4), for tests: every line
 * must be a HELP, a TYPE or a sample; metric and label names must be valid; label values must be
 * properly escaped; values must be floats (or NaN/±Inf); each sample must belong to a declared
 * family (histograms: _bucket/_sum/_count), and a histogram's buckets must be cumulative with a
 * +Inf bucket equal to its _count. Anything else throws with the line number.
 */
export interface PromSample { name: string; labels: Record<string, string>; value: number }
export interface PromFamily { name: string; type: string; help: string; samples: PromSample[] }

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

function parseValue(s: string, line: number): number {
  // Prometheus parses values with Go's strconv.ParseFloat, which takes NaN in any case (prom-client prints "Nan").
  if (/^nan$/i.test(s)) return NaN;
  if (s === '+Inf' || s === 'Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) throw new Error(`line ${line}: bad value "${s}"`);
  return Number(s);
}

function parseLabels(text: string, line: number): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < text.length) {
    const eq = text.indexOf('=', i);
    if (eq < 0) throw new Error(`line ${line}: label without "="`);
    const name = text.slice(i, eq).trim();
    if (!LABEL.test(name)) throw new Error(`line ${line}: bad label name "${name}"`);
    if (text[eq + 1] !== '"') throw new Error(`line ${line}: label value not quoted`);
    let j = eq + 2;
    let v = '';
    for (; j < text.length && text[j] !== '"'; j++) {
      if (text[j] === '\\') {
        const n = text[++j];
        if (n === 'n') v += '\n';
        else if (n === '\\' || n === '"') v += n;
        else throw new Error(`line ${line}: bad escape \\${n}`);
      } else v += text[j];
    }
    if (text[j] !== '"') throw new Error(`line ${line}: unterminated label value`);
    if (name in out) throw new Error(`line ${line}: duplicate label ${name}`);
    out[name] = v;
    i = j + 1;
    if (text[i] === ',') i++;
    else if (i < text.length) throw new Error(`line ${line}: expected "," between labels`);
  }
  return out;
}

export function parsePrometheusText(text: string): Map<string, PromFamily> {
  const fams = new Map<string, PromFamily>();
  const familyOf = (sample: string): PromFamily | undefined => {
    if (fams.has(sample)) return fams.get(sample);
    for (const suf of ['_bucket', '_sum', '_count']) {
      if (sample.endsWith(suf)) {
        const f = fams.get(sample.slice(0, -suf.length));
        if (f && (f.type === 'histogram' || f.type === 'summary')) return f;
      }
    }
    return undefined;
  };
  text.split('\n').forEach((raw, idx) => {
    const line = idx + 1;
    if (raw === '') return;
    if (raw.startsWith('# HELP ')) {
      const [name, ...rest] = raw.slice(7).split(' ');
      if (!NAME.test(name!)) throw new Error(`line ${line}: bad metric name "${name}"`);
      const f = fams.get(name!) ?? { name: name!, type: 'untyped', help: '', samples: [] };
      f.help = rest.join(' ');
      fams.set(name!, f);
      return;
    }
    if (raw.startsWith('# TYPE ')) {
      const [name, type, extra] = raw.slice(7).split(' ');
      if (!NAME.test(name!) || !TYPES.has(type!) || extra !== undefined) throw new Error(`line ${line}: bad TYPE line`);
      const f = fams.get(name!) ?? { name: name!, type: type!, help: '', samples: [] };
      if (f.samples.length) throw new Error(`line ${line}: TYPE after samples of ${name}`);
      f.type = type!;
      fams.set(name!, f);
      return;
    }
    if (raw.startsWith('#')) return; // other comments are allowed
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: (-?\d+))?$/.exec(raw);
    if (!m) throw new Error(`line ${line}: not a sample: ${raw}`);
    const f = familyOf(m[1]!);
    if (!f) throw new Error(`line ${line}: sample ${m[1]} of no declared family`);
    f.samples.push({ name: m[1]!, labels: m[2] ? parseLabels(m[2], line) : {}, value: parseValue(m[3]!, line) });
  });
  for (const f of fams.values()) {
    if (f.type !== 'histogram') continue;
    const series = new Map<string, PromSample[]>();
    for (const s of f.samples.filter((x) => x.name.endsWith('_bucket'))) {
      const { le, ...rest } = s.labels;
      if (le === undefined) throw new Error(`${f.name}: bucket without le`);
      const key = JSON.stringify(rest);
      series.set(key, [...(series.get(key) ?? []), s]);
    }
    for (const [key, buckets] of series) {
      let prev = -Infinity;
      let prevCount = 0;
      for (const b of buckets) {
        const le = parseValue(b.labels.le!, 0);
        if (le <= prev || b.value < prevCount) throw new Error(`${f.name}${key}: buckets not cumulative`);
        prev = le;
        prevCount = b.value;
      }
      if (prev !== Infinity) throw new Error(`${f.name}${key}: no +Inf bucket`);
      const count = f.samples.find((s) => s.name === `${f.name}_count` && JSON.stringify(s.labels) === key);
      if (!count || count.value !== prevCount) throw new Error(`${f.name}${key}: +Inf bucket differs from _count`);
    }
  }
  return fams;
}
