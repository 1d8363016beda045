/**
 * JSON text as bytes, for the backtest's output (output.ts): times as `toISOString` writes them and
 * the equity curve's rows as JSON.stringify writes them, straight into byte buffers.
 */
export const iso = (ms: number): string => new Date(ms).toISOString();

/** Years 0000-9999: `toISOString` prints others with a sign and six digits. */
export const inFourDigitYears = (ms: number): boolean => ms >= -62_167_219_200_000 && ms < 253_402_300_800_000;

export const CHUNK_BYTES = 1 << 20;
/**
 * Room kept free for the ASCII written between two checks (a row's keys, numbers and times, or the
 * part of a row after a string); strings are checked on their own and leave this much room too.
 */
export const SLACK = 512;
const QUOTE = 34;
const D0 = 48;

/**
 * `"<ISO time>"` as JSON.stringify writes toISOString(), as bytes: within years 0000-9999 the day's
 * prefix (made once a day: bars come in time order), then `HH:MM:SS` from a table made once per
 * second of the day met (bars repeat the same few hundred times of day), then the milliseconds;
 * other years from the string.
 */
export class IsoTimeBytes {
  private day = NaN;
  private readonly prefix = new Uint8Array(11);
  /** `HH:MM:SS` of each second of the day, 8 bytes each, made when first met (`made`). */
  private readonly clock = new Uint8Array(86_400 * 8);
  private readonly made = new Uint8Array(86_400);

  /** The time at b[p] (at most 30 bytes); returns where it ends. */
  write(b: Uint8Array, p: number, time: number): number {
    const ms = Math.trunc(time); // as a Date keeps it (TimeClip): a fraction is cut toward zero
    const d = Math.floor(ms / 86_400_000);
    if (d !== this.day) {
      if (!inFourDigitYears(ms)) {
        const text = `"${iso(ms)}"`;
        for (let k = 0; k < text.length; k++) b[p + k] = text.charCodeAt(k);
        return p + text.length;
      }
      this.day = d;
      const text = iso(d * 86_400_000);
      for (let k = 0; k < 11; k++) this.prefix[k] = text.charCodeAt(k);
    }
    b[p++] = QUOTE;
    const prefix = this.prefix;
    for (let k = 0; k < 11; k++) b[p + k] = prefix[k]!;
    p += 11;
    const rest = ms - d * 86_400_000;
    const sec = Math.floor(rest / 1000);
    const milli = rest - sec * 1000;
    if (this.made[sec] === 0) this.makeClock(sec);
    const clock = this.clock;
    const at = sec * 8;
    for (let k = 0; k < 8; k++) b[p + k] = clock[at + k]!;
    b[p + 8] = 46; // '.'
    b[p + 9] = D0 + Math.floor(milli / 100);
    b[p + 10] = D0 + (Math.floor(milli / 10) % 10);
    b[p + 11] = D0 + (milli % 10);
    b[p + 12] = 90; // 'Z'
    b[p + 13] = QUOTE;
    return p + 14;
  }

  private makeClock(sec: number): void {
    const h = Math.floor(sec / 3600);
    const m = Math.floor((sec - h * 3600) / 60);
    const s = sec - h * 3600 - m * 60;
    const c = this.clock;
    const at = sec * 8;
    c[at] = D0 + Math.floor(h / 10);
    c[at + 1] = D0 + (h % 10);
    c[at + 2] = 58; // ':'
    c[at + 3] = D0 + Math.floor(m / 10);
    c[at + 4] = D0 + (m % 10);
    c[at + 5] = 58;
    c[at + 6] = D0 + Math.floor(s / 10);
    c[at + 7] = D0 + (s % 10);
    this.made[sec] = 1;
  }
}

const COMMA = 44;
/** `{"time":` and `,"equity":` as bytes (the first row, and rows of far years or fractional milliseconds). */
const TIME_KEY = Uint8Array.from('{"time":', (c) => c.charCodeAt(0));
const EQUITY_KEY = Uint8Array.from(',"equity":', (c) => c.charCodeAt(0));

/** Four ASCII bytes as the little-endian 32-bit word that stores them in file order. */
function word(s: string): number {
  return s.charCodeAt(0) | (s.charCodeAt(1) << 8) | (s.charCodeAt(2) << 16) | (s.charCodeAt(3) << 24);
}
const DAY_MS = 86_400_000;
// The fixed words of a row `,{"time":"YYYY-MM-DDTHH:MM:SS.mmmZ","equity":` (45 bytes, 11 words and a byte).
const W_ROW0 = word(',{"t');
const W_ROW1 = word('ime"');
const W_EQU = word('"equ');
const W_ITY = word('ity"');
const COLON = 58;
const DOT_HI = 46 << 8;
const TAIL = (90 << 8) | (QUOTE << 16) | (COMMA << 24); // 'Z', '"', ','
const T_WORD = 84 | (COLON << 24); // 'T' … ':'
const ROW_FIXED = 45;
/** No day (days of years 0000-9999 are within ±3,000,000). */
const NO_DAY = -(2 ** 30);

/**
 * The equity curve's rows, `{"time":"<ISO>","equity":<number>}` each: a million of them are most of
 * the file. A row is stored as 32-bit words through a DataView (about 16 stores instead of ~70 byte
 * stores): the fixed text and the day's `"YYYY-MM-DDT` as words made once, the clock's digits
 * computed into three words, the equity's text (with the closing brace) as words made once per
 * change of value (it stays the same while no position is held). The last word of a row may run
 * past its end: the next row, or nothing (the chunk ends at `pos`), covers it. The first row (no
 * comma), years outside 0000-9999 and fractional milliseconds are written byte by byte instead.
 *
 * Why a chunk per call, with the state in fields: the loop then has no rare path (a full chunk, a
 * yield) that V8 has not seen when it optimises it (in the first chunk), which cost rounds of
 * deoptimising and compiling again in the one run that matters.
 */
export class EquityRows {
  /** The next row to write. */
  i = 0;
  private readonly times = new IsoTimeBytes();
  // The equity's text and '}' as bytes and as words, for the value last met.
  private readonly valueBytes = new Uint8Array(40);
  private readonly valueView = new DataView(this.valueBytes.buffer);
  private readonly valueWords = new Int32Array(10);
  private valueLen = 0;
  private valueWordCount = 0;
  private lastValue = NaN;
  // The day of the words ':"YY', 'YY-M', 'M-DD' (NO_DAY: none yet). An integer from the start: the
  // loop's code, optimised during the first call, takes it as one, and a NaN met on entry to a
  // later call would undo that code each time.
  private day = NO_DAY;
  private d2 = 0;
  private d3 = 0;
  private d4 = 0;

  constructor(
    private readonly time: Float64Array,
    private readonly equity: Float64Array,
  ) {}

  get done(): boolean {
    return this.i >= this.time.length;
  }

  /** Writes rows at b[p] (dv: b's view) until past `limit` or the last; returns where they end. */
  fill(b: Uint8Array, dv: DataView, p: number, limit: number): number {
    const { time, equity, valueWords } = this;
    const n = time.length;
    let i = this.i;
    let day = this.day;
    let [d2, d3, d4] = [this.d2, this.d3, this.d4];
    // The state is kept in fields as it changes, not after the loop: code after the loop would have
    // no type feedback when V8 compiles the loop in the first call, and deoptimise at every call's end.
    for (; i < n && p <= limit; i++) {
      const v = equity[i]!;
      if (!(v === this.lastValue)) this.setValue(v);
      const ms = time[i]!;
      const d = Math.floor(ms / DAY_MS);
      const rest = ms - d * DAY_MS;
      if (d !== day && i > 0 && inFourDigitYears(ms) && (rest | 0) === rest) {
        const t = iso(d * DAY_MS);
        this.day = day = d;
        this.d2 = d2 = COLON | (QUOTE << 8) | (t.charCodeAt(0) << 16) | (t.charCodeAt(1) << 24);
        this.d3 = d3 = word(t.slice(2, 6));
        this.d4 = d4 = word(t.slice(6, 10));
      }
      if (d !== day || i === 0 || (rest | 0) !== rest) {
        // Byte by byte, as JSON.stringify and toISOString write it.
        if (i > 0) b[p++] = COMMA;
        for (let k = 0; k < 8; k++) b[p + k] = TIME_KEY[k]!;
        p = this.times.write(b, p + 8, ms);
        for (let k = 0; k < 10; k++) b[p + k] = EQUITY_KEY[k]!;
        p += 10;
      } else {
        const r = rest | 0;
        const sec = (r / 1000) | 0;
        const milli = r - sec * 1000;
        const h = (sec / 3600) | 0;
        const m = ((sec - h * 3600) / 60) | 0;
        const s = sec - h * 3600 - m * 60;
        dv.setInt32(p, W_ROW0, true);
        dv.setInt32(p + 4, W_ROW1, true);
        dv.setInt32(p + 8, d2, true);
        dv.setInt32(p + 12, d3, true);
        dv.setInt32(p + 16, d4, true);
        dv.setInt32(p + 20, T_WORD | ((D0 + ((h / 10) | 0)) << 8) | ((D0 + (h % 10)) << 16), true);
        dv.setInt32(p + 24, (D0 + ((m / 10) | 0)) | ((D0 + (m % 10)) << 8) | (COLON << 16) | ((D0 + ((s / 10) | 0)) << 24), true);
        dv.setInt32(p + 28, (D0 + (s % 10)) | DOT_HI | ((D0 + ((milli / 100) | 0)) << 16) | ((D0 + (((milli / 10) | 0) % 10)) << 24), true);
        dv.setInt32(p + 32, (D0 + (milli % 10)) | TAIL, true);
        dv.setInt32(p + 36, W_EQU, true);
        dv.setInt32(p + 40, W_ITY, true);
        b[p + 44] = COLON;
        p += ROW_FIXED;
      }
      const words = this.valueWordCount;
      for (let k = 0; k < words; k++) dv.setInt32(p + k * 4, valueWords[k]!, true);
      p += this.valueLen;
      this.i = i + 1;
    }
    return p;
  }

  /** The words of `v` as JSON.stringify writes it, then '}'. */
  private setValue(v: number): void {
    this.lastValue = v;
    const text = Number.isFinite(v) ? String(v) : 'null';
    const bytes = this.valueBytes;
    for (let k = 0; k < text.length; k++) bytes[k] = text.charCodeAt(k);
    bytes[text.length] = 125; // '}'
    this.valueLen = text.length + 1;
    this.valueWordCount = (this.valueLen + 3) >> 2;
    for (let k = 0; k < this.valueWordCount; k++) this.valueWords[k] = this.valueView.getInt32(k * 4, true);
  }
}
