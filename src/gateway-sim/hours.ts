/**
 * Trading hours in New York time, computed with the US daylight-saving rule (second Sunday of March
 * to first Sunday of November, switching at 02:00 local), so no time-zone database is needed.
 * Exchange holidays are not modelled.
 *
 * Stocks: regular trading hours 09:30-16:00, Monday to Friday.
 * Crypto (PAXOS through IBKR, as the simulator's brief defines it): Sunday 03:00 to Friday 16:00.
 */
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** UTC ms of the n-th Sunday (1-based) of a month at 02:00 local standard/daylight time. */
function nthSundayUtc(year: number, month: number, n: number, utcHour: number): number {
  const first = Date.UTC(year, month, 1);
  const dow = new Date(first).getUTCDay();
  const firstSunday = 1 + ((7 - dow) % 7);
  return Date.UTC(year, month, firstSunday + 7 * (n - 1), utcHour);
}

/** Offset of New York from UTC in ms (negative): -4 h in daylight time, -5 h otherwise. */
export function nyOffsetMs(utcMs: number): number {
  const year = new Date(utcMs).getUTCFullYear();
  const dstStart = nthSundayUtc(year, 2, 2, 7); // 02:00 EST = 07:00 UTC
  const dstEnd = nthSundayUtc(year, 10, 1, 6); // 02:00 EDT = 06:00 UTC
  return utcMs >= dstStart && utcMs < dstEnd ? -4 * HOUR : -5 * HOUR;
}

export interface NyParts {
  /** 0 = Sunday. */
  weekday: number;
  /** Minutes since local midnight. */
  minutes: number;
  /** UTC ms of local midnight of that day. */
  midnightUtc: number;
}

export function nyParts(utcMs: number): NyParts {
  const off = nyOffsetMs(utcMs);
  const local = utcMs + off;
  const localMidnight = Math.floor(local / DAY) * DAY;
  const d = new Date(localMidnight);
  return { weekday: d.getUTCDay(), minutes: Math.floor((local - localMidnight) / 60_000), midnightUtc: localMidnight - off };
}

/** UTC ms of a New York wall-clock time on the day that contains `utcMs`. */
export function nyTimeOnDay(utcMs: number, hour: number, minute: number): number {
  const p = nyParts(utcMs);
  const guess = p.midnightUtc + (hour * 60 + minute) * 60_000;
  // The offset can differ between midnight and the target time on DST days; correct once.
  return guess + (nyOffsetMs(p.midnightUtc) - nyOffsetMs(guess));
}

export type MarketKind = 'stock' | 'crypto';

const RTH_OPEN = 9 * 60 + 30;
const RTH_CLOSE = 16 * 60;

export function isMarketOpen(kind: MarketKind, utcMs: number): boolean {
  const { weekday, minutes } = nyParts(utcMs);
  if (kind === 'stock') return weekday >= 1 && weekday <= 5 && minutes >= RTH_OPEN && minutes < RTH_CLOSE;
  if (weekday === 6) return false;
  if (weekday === 0) return minutes >= 3 * 60;
  if (weekday === 5) return minutes < RTH_CLOSE;
  return true;
}

/**
 * The last instant (UTC ms) at or before `utcMs` at which the market was open; `utcMs` itself when open.
 * Used to freeze quotes at the last close while a market is shut.
 */
export function lastOpenInstant(kind: MarketKind, utcMs: number): number {
  if (isMarketOpen(kind, utcMs)) return utcMs;
  // Walk back day by day to the most recent close.
  for (let back = 0; back < 10; back++) {
    const day = utcMs - back * DAY;
    const close = nyTimeOnDay(day, 16, 0);
    if (close <= utcMs && isMarketOpen(kind, close - 1)) return close - 1;
  }
  return utcMs;
}

/** The next instant at or after `utcMs` at which the market opens (or `utcMs` if already open). */
export function nextOpenInstant(kind: MarketKind, utcMs: number): number {
  if (isMarketOpen(kind, utcMs)) return utcMs;
  for (let ahead = 0; ahead < 10; ahead++) {
    const day = utcMs + ahead * DAY;
    const open = kind === 'stock' ? nyTimeOnDay(day, 9, 30) : nyTimeOnDay(day, 3, 0);
    if (open >= utcMs && isMarketOpen(kind, open)) return open;
  }
  return utcMs;
}
