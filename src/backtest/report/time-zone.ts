/**
 * Report times in the exchange's time zone: New York for US stocks (a session is 09:30–16:00
 * there, whatever the season), UTC for crypto (it trades around the clock; no local day is more
 * natural than UTC's). The charting library draws UTC timestamps only, so the report shifts each
 * timestamp by the zone's offset at that instant (the library's documented way to show local
 * time); the tables format the true instant in the zone.
 */
import type { SecType } from '../../strategies/cointegration/params.ts';
import { zoneClockFormat } from '../../util/zone-clock-format.ts';

export interface ExchangeZone {
  /** IANA name. */
  tz: string;
  /** What the page calls it. */
  label: string;
}

export function exchangeZone(secTypes: readonly SecType[]): ExchangeZone {
  return secTypes.length > 0 && secTypes.every((s) => s === 'CRYPTO') ? { tz: 'UTC', label: 'UTC' } : { tz: 'America/New_York', label: 'New York' };
}

const HOUR = 3_600_000;

/** Offsets of one zone, cached by hour (offsets change on the hour, if at all). */
export class ZoneClock {
  private readonly fmt: Intl.DateTimeFormat;
  private readonly cache = new Map<number, number>();

  constructor(readonly zone: ExchangeZone) {
    this.fmt = zoneClockFormat(zone.tz, true);
  }

  /** Wall-clock fields of an instant in the zone. */
  private fields(ms: number): { y: number; mo: number; d: number; h: number; mi: number; s: number } {
    const p: Record<string, number> = {};
    for (const part of this.fmt.formatToParts(new Date(ms))) if (part.type !== 'literal') p[part.type] = Number(part.value);
    return { y: p.year!, mo: p.month!, d: p.day!, h: p.hour!, mi: p.minute!, s: p.second! };
  }

  /** Milliseconds to add to a UTC instant to get the zone's wall-clock time as if it were UTC. */
  offsetMs(ms: number): number {
    if (this.zone.tz === 'UTC') return 0;
    const key = Math.floor(ms / HOUR);
    let off = this.cache.get(key);
    if (off === undefined) {
      const at = key * HOUR;
      const f = this.fields(at);
      off = Date.UTC(f.y, f.mo - 1, f.d, f.h, f.mi, f.s) - at;
      this.cache.set(key, off);
    }
    return off;
  }

  /** The instant shifted to wall-clock time, in seconds (the charting library's time). */
  chartTime(ms: number): number {
    return Math.floor((ms + this.offsetMs(ms)) / 1000);
  }

  /** `YYYY-MM-DD HH:mm` in the zone. */
  format(ms: number): string {
    return new Date(ms + this.offsetMs(ms)).toISOString().slice(0, 16).replace('T', ' ');
  }

  /** `YYYY-MM-DD` of the instant's day in the zone. */
  day(ms: number): string {
    return new Date(ms + this.offsetMs(ms)).toISOString().slice(0, 10);
  }

  /** The Monday (`YYYY-MM-DD`) of the instant's week in the zone. */
  week(ms: number): string {
    const local = new Date(ms + this.offsetMs(ms));
    const dow = (local.getUTCDay() + 6) % 7;
    return new Date(Date.UTC(local.getUTCFullYear(), local.getUTCMonth(), local.getUTCDate() - dow)).toISOString().slice(0, 10);
  }
}
