/**
 * A time zone's wall clock as Intl formats it, in numeric parts (formatToParts): year, month, day,
 * 24-hour hour, minute and, if asked, second. Read by the engine's market hours (New York) and the
 * backtest report's exchange clock.
 */
export function zoneClockFormat(timeZone: string, seconds: boolean): Intl.DateTimeFormat {
  return new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    ...(seconds ? { second: '2-digit' } : {}),
  });
}
