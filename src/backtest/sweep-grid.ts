/**
 * Parameter grids for `tandem sweep`: `--grid 'entryZ=1.5,2,2.5 lookback=60,120'` names numeric
 * keys of the strategy section (dotted for nested ones: `gate.lookback=260,390`) and their
 * values; every combination is a grid point. Each point is validated by the strategy's own schema,
 * so a point the config would refuse (exitZ ≥ entryZ...) is listed as skipped with the schema's
 * reason, never run.
 */
import { cointegrationParamsSchema, type CointegrationParams } from '../strategies/cointegration/params.ts';
import { UserError } from '../util/errors.ts';

export interface GridAxis {
  key: string;
  values: number[];
}

export type GridPoint = Record<string, number>;

const KEY = /^[A-Za-z][A-Za-z0-9]*(\.[A-Za-z][A-Za-z0-9]*)*$/;

export function parseGrid(spec: string): GridAxis[] {
  const axes: GridAxis[] = [];
  for (const part of spec.trim().split(/\s+/).filter(Boolean)) {
    const eq = part.indexOf('=');
    const key = eq > 0 ? part.slice(0, eq) : '';
    if (!KEY.test(key)) throw new UserError(`--grid '${part}': expected key=v1,v2,... with a parameter name, e.g. entryZ=1.5,2,2.5`);
    const values = part
      .slice(eq + 1)
      .split(',')
      .map((v) => v.trim());
    const nums = values.map(Number);
    const bad = values.find((v, i) => v === '' || !Number.isFinite(nums[i]));
    if (bad !== undefined) throw new UserError(`--grid '${part}': '${bad}' is not a number`);
    if (axes.some((a) => a.key === key)) throw new UserError(`--grid: ${key} is given twice`);
    axes.push({ key, values: [...new Set(nums)] });
  }
  if (axes.length === 0) throw new UserError("--grid is empty: give key=v1,v2,... e.g. --grid 'entryZ=1.5,2,2.5 lookback=60,120'");
  return axes;
}

/** Every combination, the first axis varying slowest. */
export function gridPoints(axes: GridAxis[]): GridPoint[] {
  let points: GridPoint[] = [{}];
  for (const a of axes) points = points.flatMap((p) => a.values.map((v) => ({ ...p, [a.key]: v })));
  return points;
}

export function describePoint(p: GridPoint): string {
  return Object.entries(p)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
}

/** The base params with the point's values set; the schema's error (as text) when invalid. */
export function applyPoint(base: CointegrationParams, point: GridPoint): { ok: true; params: CointegrationParams } | { ok: false; reason: string } {
  const raw = structuredClone(base) as unknown as Record<string, unknown>;
  for (const [key, value] of Object.entries(point)) {
    const path = key.split('.');
    let obj: Record<string, unknown> = raw;
    for (const k of path.slice(0, -1)) {
      const next = obj[k];
      if (next === null || typeof next !== 'object') throw new UserError(`--grid ${key}: the strategy has no '${path.slice(0, path.indexOf(k) + 1).join('.')}' section to vary`);
      obj = next as Record<string, unknown>;
    }
    const last = path[path.length - 1]!;
    if (typeof obj[last] !== 'number' && !(last === 'maxHoldingBars' && path.length === 1)) {
      throw new UserError(`--grid ${key}: not a numeric parameter of the strategy (e.g. entryZ, exitZ, stopZ, lookback, maxHoldingBars, gate.lookback, gate.maxPValue, sizing.capitalFraction)`);
    }
    obj[last] = value;
  }
  const parsed = cointegrationParamsSchema.safeParse(raw);
  if (!parsed.success) return { ok: false, reason: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') };
  return { ok: true, params: parsed.data };
}
