/** Formatting helpers for the gateway's string-typed values (§5.1, §6.7, §6.9). */

/** "1,234.56" */
export function fmtAmount(x: number, decimals = 2): string {
  return x.toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
}

/** Sizes with thousands separators: "1,300"; fractional sizes keep their decimals. */
export function fmtSize(x: number): string {
  if (Number.isInteger(x)) return x.toLocaleString('en-US');
  return String(Number(x.toFixed(8)));
}

/** Volume abbreviated like field 87: "845K", "12.3M". */
export function fmtVolume(x: number): string {
  if (x >= 1e9) return `${(x / 1e9).toFixed(2)}B`;
  if (x >= 1e6) return `${(x / 1e6).toFixed(1)}M`;
  if (x >= 1e4) return `${Math.round(x / 1e3)}K`;
  return fmtSize(Math.round(x * 1e4) / 1e4);
}

function pad(n: number, w = 2): string {
  return String(n).padStart(w, '0');
}

/** YYMMDDhhmmss in UTC (lastExecutionTime, order_time). */
export function yymmddhhmmss(ms: number): string {
  const d = new Date(ms);
  return `${pad(d.getUTCFullYear() % 100)}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}`;
}

/** YYYYMMDD-HH:mm:ss in UTC (trade_time, history startTime). */
export function yyyymmddDashTime(ms: number): string {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}-${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}

/** Parses YYYYMMDD-HH:mm:ss (UTC) or returns undefined. */
export function parseDashTime(s: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})-(\d{2}):(\d{2}):(\d{2})$/.exec(s);
  if (!m) return undefined;
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
}
