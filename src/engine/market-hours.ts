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

const fmt = new Intl.DateTimeFormat('en-US', {
  timeZone: 'America/New_York',
  hourCycle: 'h23',
  weekday: 'short',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
});
const DAYS: Record<string, number> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };

export interface NyTime {
  /** 0 = Sunday. */
  weekday: number;
  /** Minutes since New York midnight. */
  minutes: number;
  /** YYYY-MM-DD in New York (the trading day, for the daily loss limit). */
  date: string;
}

// Formatting is the slow part. New York's offset from UTC is a whole number of hours and changes
// on an hour boundary, so within one UTC hour the New York date, weekday and hour are fixed and
// the minute is UTC's: one formatting per UTC hour (a backtest asks for every bar).
let cacheHour = NaN;
let cacheBase = { weekday: 0, hourMinutes: 0, date: '' };

export function nyTime(epochMs: number): NyTime {
  const hour = Math.floor(epochMs / 3_600_000);
  if (hour !== cacheHour) {
    const parts: Record<string, string> = {};
    for (const p of fmt.formatToParts(new Date(hour * 3_600_000))) parts[p.type] = p.value;
    cacheBase = {
      weekday: DAYS[parts.weekday ?? 'Sun'] ?? 0,
      hourMinutes: Number(parts.hour) * 60 + Number(parts.minute),
      date: `${parts.year}-${parts.month}-${parts.day}`,
    };
    cacheHour = hour;
  }
  const minuteOfHour = Math.floor((epochMs - hour * 3_600_000) / 60_000);
  return { weekday: cacheBase.weekday, minutes: cacheBase.hourMinutes + minuteOfHour, date: cacheBase.date };
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

/** Inside the nightly reset or weekend maintenance of the brokerage session. */
export function isSessionMaintenance(epochMs: number): boolean {
  const t = nyTime(epochMs);
  if (t.minutes >= 23 * 60 + 45 || t.minutes < 90) return true;
  if (t.weekday === 6 && t.minutes >= 18 * 60) return true;
  if (t.weekday === 0 && t.minutes < 3 * 60) return true;
  return false;
}
