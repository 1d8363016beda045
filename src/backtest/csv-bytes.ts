/**
 * The `time` cell of a bar file read straight from the file's bytes, for the CSV loader's fast
 * path (see csv.ts). It gives up (NaN) on anything but the common forms; the loader then re-reads
 * that line the slow way (parseTime), which either accepts it with the same value or reports the
 * error with file:line:col. So it must never accept a cell parseTime refuses, nor differ from it.
 *
 * Forms read: `YYYY-MM-DD[THH:MM[:SS[.f{1,3}]]][Z]` (UTC) and epoch milliseconds of 11 to 15
 * digits. Years before 100 are left to the slow path (Date.UTC maps them to 19xx).
 */

const D0 = 48; // '0'
const DOT = 46; // '.'

const two = (buf: Uint8Array, p: number): number => {
  const a = buf[p]! - D0;
  const b = buf[p + 1]! - D0;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1;
};

const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

// These two compute every term for every date, without a path taken only in some months (V8
// optimises the reader on the first month's dates, and a path first taken in February undid it).

/** Days in month `m` (1-12) of year `y`. */
function monthDays(y: number, m: number): number {
  const leap = (y % 4 === 0 ? 1 : 0) - (y % 100 === 0 ? 1 : 0) + (y % 400 === 0 ? 1 : 0);
  return MONTH_DAYS[m - 1]! + (m === 2 ? leap : 0);
}

/** Days from 1970-01-01 to the civil date (proleptic Gregorian), as Date.UTC counts them. */
function daysFromCivil(y: number, m: number, d: number): number {
  const yy = y - (m <= 2 ? 1 : 0);
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/**
 * A `time` cell as epoch ms, for the common forms only; NaN for anything else (offsets, lower-case
 * `t`/`z`, a space separator, more than 3 fraction digits, invalid dates, epoch seconds, signs),
 * which the slow path then reads or refuses.
 */
export function readTime(buf: Uint8Array, s: number, e: number): number {
  readTimeInto(buf, s, e, result);
  return result[0]!;
}

const result = new Float64Array(1);

const notRead = (out: Float64Array): void => {
  out[0] = NaN;
};

// The date of the last time read, `YYYY-MM-DD` as bytes, and its day number (NaN: none): a day's
// bars share it, so its checks and its day count are made once a day, not once a time.
const lastDate = new Uint8Array(10);
let lastDays = NaN;

/** Whether buf[s, s + 10) is the last date read. */
function isLastDate(buf: Uint8Array, s: number): boolean {
  for (let k = 9; k >= 0; k--) if (buf[s + k] !== lastDate[k]) return false;
  return true;
}

/**
 * readTime, the answer written to out[0]: a call that returns a double that V8 did not inline
 * allocates a heap number for it, once a row in the CSV loader.
 */
export function readTimeInto(buf: Uint8Array, s: number, e: number, out: Float64Array): void {
  const n = e - s;
  if (n >= 11 && n <= 15 && buf[s + 4] !== 45) {
    // Epoch milliseconds (11+ digits: 10 digits or fewer may be epoch seconds, which the slow path refuses).
    let v = 0;
    for (let p = s; p < e; p++) {
      const c = buf[p]! - D0;
      if (c < 0 || c > 9) return notRead(out);
      v = v * 10 + c;
    }
    out[0] = v;
    return;
  }
  if (n < 10 || buf[s + 4] !== 45 || buf[s + 7] !== 45) return notRead(out);
  let days = lastDays;
  if (days !== days || !isLastDate(buf, s)) {
    const y = two(buf, s) * 100 + two(buf, s + 2);
    const mo = two(buf, s + 5);
    const d = two(buf, s + 8);
    if (y < 100 || two(buf, s) < 0 || two(buf, s + 2) < 0 || mo < 1 || mo > 12 || d < 1) return notRead(out);
    if (d > monthDays(y, mo)) return notRead(out);
    days = lastDays = daysFromCivil(y, mo, d);
    for (let k = 0; k < 10; k++) lastDate[k] = buf[s + k]!;
  }
  let p = s + 10;
  let end = e;
  if (buf[end - 1] === 90 && end - 1 > p) end--; // trailing 'Z' after a time
  let h = 0;
  let mi = 0;
  let sec = 0;
  let ms = 0;
  if (p < end) {
    if (buf[p] !== 84 || end - p < 6 || buf[p + 3] !== 58) return notRead(out); // 'T', ':'
    h = two(buf, p + 1);
    mi = two(buf, p + 4);
    p += 6;
    if (p < end) {
      if (buf[p] !== 58 || end - p < 3) return notRead(out);
      sec = two(buf, p + 1);
      p += 3;
      if (p < end) {
        const digits = end - p - 1;
        if (buf[p] !== DOT || digits < 1 || digits > 3) return notRead(out);
        for (let k = 0; k < 3; k++) {
          const c = k < digits ? buf[p + 1 + k]! - D0 : 0;
          if (c < 0 || c > 9) return notRead(out);
          ms = ms * 10 + c;
        }
      }
    }
    if (h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 59) return notRead(out);
  } else if (end !== e) {
    return notRead(out); // a date followed by 'Z' alone
  }
  out[0] = days * 86_400_000 + h * 3_600_000 + mi * 60_000 + sec * 1000 + ms;
}
