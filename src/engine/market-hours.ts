/**
 * Trading windows in New York time, computed from a timestamp (event time in the live loop, so an
 * accelerated simulated clock is judged by its own time).
 *
 * - US stocks: regular hours Monday to Friday 09:30 to 16:00 New York. Exchange holidays and early
 *   closes are not modelled (the broker rejects or holds such orders; the engine then journals it).
 * - Crypto (PAXOS at IBKR): Sunday 03:00 to Friday 16:00 New York.
 * - The brokerage session's nightly reset (about 00:00 to 01:00 New York, treated as hazardous from
 *   23:45 to 01:30) and the weekend maintenance (Saturday 18:00 to Sunday 03:00 here): the engine
 *   pauses decisions there.
 */
import type { SecType } from '../brokers/types.ts';
import { zoneClockFormat } from '../util/zone-clock-format.ts';

/** New York's clock from the time zone database (ICU's; made when first needed: ~20 ms). */
let fmt: Intl.DateTimeFormat | null = null;
function nyFormat(): Intl.DateTimeFormat {
  return (fmt ??= zoneClockFormat('America/New_York', false));
}

export interface NyTime {
  /** 0 = Sunday. */
  weekday: number;
  /** Minutes since New York midnight. */
  minutes: number;
  /** YYYY-MM-DD in New York (the trading day, for the daily loss limit). */
  date: string;
}

// Formatting is the slow part (microseconds; a backtest asks at every bar). New York's offset from
// UTC switches twice a year, on a whole UTC hour, the two switches at least 120 days apart. So the
// offset is found per block of BLOCK_DAYS UTC days: formatted at the block's first and last hour;
// the block holds one switch at most, found by bisecting its hours. The New York time is then UTC
// plus that offset, by arithmetic (a dozen formats a month of bars).
const BLOCK_DAYS = 32;
const HOUR = 3_600_000;
let block = NaN;
let blockBefore = 0;
let blockAfter = 0;
/** The instant of the block's switch (Infinity when it has none). */
let blockSwitch = Infinity;
let dateDay = NaN;
let dateText = '';

/**
 * The years whose New York offsets follow the US rule since 2007 (Energy Policy Act of 2005):
 * daylight time from the second Sunday of March, 02:00 EST (07:00 UTC), to the first Sunday of
 * November, 02:00 EDT (06:00 UTC). Within them the offset is computed (tests check it against the
 * time zone database hour by hour); outside them, and for any year a later law may change, it is
 * the database's.
 */
const RULE_FIRST_YEAR = 2007;
const RULE_LAST_YEAR = 2026;
const EST = -5 * 3_600_000;
const EDT = -4 * 3_600_000;

/** The day of month of the n-th Sunday (n >= 1) of a month (0-based) of a year. */
function nthSunday(year: number, month: number, n: number): number {
  const weekday = new Date(Date.UTC(year, month, 1)).getUTCDay();
  return 1 + ((7 - weekday) % 7) + (n - 1) * 7;
}

/** New York's offset from UTC (ms, negative) at an instant on a whole minute (exported for the tests that hold it against the database). */
export function offsetAt(ms: number): number {
  const year = new Date(ms).getUTCFullYear();
  if (year >= RULE_FIRST_YEAR && year <= RULE_LAST_YEAR) {
    const dstStart = Date.UTC(year, 2, nthSunday(year, 2, 2), 7);
    const dstEnd = Date.UTC(year, 10, nthSunday(year, 10, 1), 6);
    return ms >= dstStart && ms < dstEnd ? EDT : EST;
  }
  return zoneOffsetAt(ms);
}

/** New York's offset from UTC at an instant on a whole minute, from the time zone database. */
export function zoneOffsetAt(ms: number): number {
  const parts: Record<string, string> = {};
  for (const p of nyFormat().formatToParts(new Date(ms))) parts[p.type] = p.value;
  // A whole number of minutes: as an int32 (`| 0`, exact), the same kind of number as the rule's
  // offsets, so code optimised on one does not undo itself on the other.
  return (Date.UTC(Number(parts.year), Number(parts.month) - 1, Number(parts.day), Number(parts.hour), Number(parts.minute)) - ms) | 0;
}

function offsetMs(epochMs: number): number {
  const b = Math.floor(epochMs / (BLOCK_DAYS * 86_400_000));
  if (b !== block) {
    block = b;
    const start = b * BLOCK_DAYS * 86_400_000;
    const hours = BLOCK_DAYS * 24;
    blockBefore = offsetAt(start);
    blockAfter = offsetAt(start + (hours - 1) * HOUR);
    // The first hour on the new offset: hour `lo` is on the old one, hour `hi` on the new one. Also
    // bisected without a switch (it then ends on the last hour, where both offsets are the same):
    // a search run only in the blocks of March and November undid the code of every caller V8 had
    // optimised on the blocks before.
    let lo = 0;
    let hi = hours - 1;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (offsetAt(start + mid * HOUR) === blockBefore) lo = mid;
      else hi = mid;
    }
    blockSwitch = start + hi * HOUR;
  }
  return epochMs < blockSwitch ? blockBefore : blockAfter;
}

export function nyTime(epochMs: number): NyTime {
  const ny = epochMs + offsetMs(epochMs);
  const days = Math.floor(ny / 86_400_000);
  return { weekday: (((days + 4) % 7) + 7) % 7, minutes: Math.floor((ny - days * 86_400_000) / 60_000), date: dateOf(days) };
}

/** The New York day of an instant, as days since 1970-01-01 (the daily-loss guard's trading day, asked at every bar: no text). */
export function nyDay(epochMs: number): number {
  return Math.floor((epochMs + offsetMs(epochMs)) / 86_400_000);
}

function dateOf(days: number): string {
  if (days !== dateDay) {
    dateDay = days;
    dateText = new Date(days * 86_400_000).toISOString().slice(0, 10);
  }
  return dateText;
}

const OPEN = 9 * 60 + 30;
const CLOSE = 16 * 60;

export function isStockRegularHours(epochMs: number): boolean {
  const t = nyTime(epochMs);
  return t.weekday >= 1 && t.weekday <= 5 && t.minutes >= OPEN && t.minutes < CLOSE;
}

export function isCryptoWindow(epochMs: number): boolean {
  const t = nyTime(epochMs);
  if (t.weekday === 6) return false;
  if (t.weekday === 0) return t.minutes >= 3 * 60;
  if (t.weekday === 5) return t.minutes < CLOSE;
  return true;
}

/** Whether an order for this kind of instrument may be sent at this time. */
export function isTradable(secType: SecType, epochMs: number, allowOutsideRth = false): boolean {
  if (secType === 'CRYPTO') return isCryptoWindow(epochMs);
  if (allowOutsideRth) {
    const t = nyTime(epochMs);
    return t.weekday >= 1 && t.weekday <= 5 && t.minutes >= 4 * 60 && t.minutes < 20 * 60;
  }
  return isStockRegularHours(epochMs);
}

/**
 * The first time (ms, on a 5-minute grid) from `now` at which every one of these instruments is
 * tradable, searched up to 8 days ahead; null when none is found.
 */
export function nextTradableTime(secTypes: SecType[], now: number, allowOutsideRth = false): number | null {
  const step = 5 * 60_000;
  let t = Math.ceil(now / step) * step;
  for (let i = 0; i < (8 * 24 * 60) / 5; i++, t += step) if (secTypes.every((s) => isTradable(s, t, allowOutsideRth))) return t;
  return null;
}

/** Inside the nightly reset or weekend maintenance of the brokerage session. */
export function isSessionMaintenance(epochMs: number): boolean {
  const t = nyTime(epochMs);
  if (t.minutes >= 23 * 60 + 45 || t.minutes < 90) return true;
  if (t.weekday === 6 && t.minutes >= 18 * 60) return true;
  if (t.weekday === 0 && t.minutes < 3 * 60) return true;
  return false;
}
