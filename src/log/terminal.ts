/**
 * How log records look on a terminal. pino-pretty prints a record's fields one per line, which
 * turns the engine's per-bar record into seven lines a minute per strategy; on a terminal that
 * record is rendered as ONE line instead (`10:30 etha_ethv ETHA/ETHV 25.10/24.87 z=+1.23 β=0.988
 * p=0.031 pos=flat eq=100,012.40`), the bar's time in the exchange's time zone. Every other record
 * goes through pino-pretty, its time stamp also in the exchange's time zone. Piped output is not
 * touched: JSON lines with every field (see logger.ts).
 *
 * A record is a bar status when it carries `kind: 'bar'` (set by the strategy runner), not by its
 * message text.
 */
import { createRequire } from 'node:module';
import type * as PinoPretty from 'pino-pretty';

// pino-pretty is loaded (~20 ms) only when a terminal renderer is made: piped output, a backtest's
// or a test's, never needs it. It is CommonJS, so it is required, synchronously.
const requireCjs = createRequire(import.meta.url);
const prettyFactory: typeof PinoPretty.prettyFactory = (options) => (requireCjs('pino-pretty') as typeof PinoPretty).prettyFactory(options);

/** The exchanges Tandem trades (US stocks and ETFs, PAXOS crypto) keep New York time. */
export const EXCHANGE_TIME_ZONE = 'America/New_York';

const clockFormats = new Map<string, Intl.DateTimeFormat>();
function clockFormat(timeZone: string, seconds: boolean): Intl.DateTimeFormat {
  const key = `${timeZone}|${seconds}`;
  let f = clockFormats.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, hour: '2-digit', minute: '2-digit', ...(seconds ? { second: '2-digit' } : {}), hourCycle: 'h23', timeZoneName: 'short' });
    clockFormats.set(key, f);
  }
  return f;
}

/** `09:35` (or `09:35:07.123 EST` with seconds) in the exchange's time zone. */
export function exchangeClock(ms: number, o: { seconds?: boolean; zone?: boolean; timeZone?: string } = {}): string {
  const p: Record<string, string> = {};
  for (const part of clockFormat(o.timeZone ?? EXCHANGE_TIME_ZONE, Boolean(o.seconds)).formatToParts(new Date(ms))) p[part.type] = part.value;
  const millis = o.seconds ? `.${String(Math.floor(((ms % 1000) + 1000) % 1000)).padStart(3, '0')}` : '';
  const clock = `${p.hour}:${p.minute}${o.seconds ? `:${p.second}` : ''}${millis}`;
  return o.zone ? `${clock} ${p.timeZoneName}` : clock;
}

const fixed = (v: unknown, digits: number, signed = false): string | null => {
  if (typeof v !== 'number' || !Number.isFinite(v)) return null;
  return `${signed && v >= 0 ? '+' : ''}${v.toFixed(digits)}`;
};

/** The one-line bar status of a `kind: 'bar'` record (null when it is not one). */
export function barStatusLine(rec: Record<string, unknown>, timeZone = EXCHANGE_TIME_ZONE): string | null {
  if (rec.kind !== 'bar') return null;
  const t = typeof rec.bar === 'string' ? Date.parse(rec.bar) : NaN;
  const parts = [
    Number.isFinite(t) ? exchangeClock(t, { timeZone }) : '--:--',
    String(rec.strategy ?? ''),
    `${String(rec.ySymbol ?? 'y')}/${String(rec.xSymbol ?? 'x')}`,
    `${fixed(rec.y, 2) ?? 'n/a'}/${fixed(rec.x, 2) ?? 'n/a'}`,
    `z=${fixed(rec.z, 2, true) ?? 'n/a'}`,
    `β=${fixed(rec.beta, 3) ?? 'n/a'}`,
    ...(rec.p === null || rec.p === undefined ? [] : [`p=${fixed(rec.p, 3) ?? 'n/a'}`]),
    `pos=${String(rec.pos ?? '?').toLowerCase()}`,
    ...(typeof rec.equity === 'number' ? [`eq=${rec.equity.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`] : []),
  ];
  return parts.filter((x) => x !== '').join(' ');
}

/**
 * A line renderer for a terminal: one serialized pino record in, the text to print out (with its
 * newline). Bar records become one line; the rest are pino-pretty's, time in the exchange's zone.
 */
export function terminalRenderer(o: { colorize: boolean; timeZone?: string }): (line: string) => string {
  const timeZone = o.timeZone ?? EXCHANGE_TIME_ZONE;
  const pretty = prettyFactory({
    colorize: o.colorize,
    ignore: 'pid,hostname,kind',
    // The raw epoch ms reaches the prettifier (no translateTime), shown in the exchange's zone.
    translateTime: false,
    customPrettifiers: {
      time: (ts: string | object) => {
        const ms = typeof ts === 'number' ? ts : Number(ts);
        return Number.isFinite(ms) ? `[${exchangeClock(ms, { seconds: true, zone: true, timeZone })}]` : `[${String(ts)}]`;
      },
    },
  });
  return (line) => {
    let rec: Record<string, unknown> | null;
    try {
      rec = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return pretty(line);
    }
    const bar = rec && typeof rec === 'object' ? barStatusLine(rec, timeZone) : null;
    return bar === null ? pretty(rec) : `${bar}\n`;
  };
}
