/**
 * A progress bar for long jobs (backtests over large files, pair scans), drawn on stderr. Quiet
 * when stderr is not a terminal (pipes, CI, tests) so logs and captured output stay clean.
 */
export interface ProgressOptions {
  /** Label before the bar. */
  label: string;
  /** Total units of work (bars, bytes, pairs); 0 = unknown. */
  total: number;
  /** Where to draw; defaults to process.stderr. */
  stream?: NodeJS.WriteStream;
  /** Force on/off; default: on when the stream is a TTY. */
  enabled?: boolean;
  /** Minimum milliseconds between redraws. */
  intervalMs?: number;
}

export class ProgressBar {
  private readonly stream: NodeJS.WriteStream;
  readonly enabled: boolean;
  private readonly intervalMs: number;
  private readonly started = Date.now();
  private lastDraw = 0;
  private done = 0;
  private finished = false;

  constructor(private readonly opts: ProgressOptions) {
    this.stream = opts.stream ?? process.stderr;
    this.enabled = opts.enabled ?? Boolean(this.stream.isTTY);
    this.intervalMs = opts.intervalMs ?? 100;
  }

  /** Sets the amount done so far; redraws at most every `intervalMs`. Cheap when disabled. */
  update(done: number): void {
    this.done = done;
    if (!this.enabled) return;
    const now = Date.now();
    if (now - this.lastDraw < this.intervalMs) return;
    this.lastDraw = now;
    this.draw(now);
  }

  /** Sets the total once it is known (e.g. a file's size). */
  setTotal(total: number): void {
    this.opts.total = total;
  }

  tick(n = 1): void {
    this.update(this.done + n);
  }

  /** Draws the final state and moves to a new line. */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    if (!this.enabled) return;
    if (this.opts.total > 0) this.done = this.opts.total;
    this.draw(Date.now());
    this.stream.write('\n');
  }

  /** The text of the bar (exposed for tests). */
  render(now = Date.now()): string {
    const { label, total } = this.opts;
    const secs = (now - this.started) / 1000;
    if (!(total > 0)) return `${label} ${this.done} (${secs.toFixed(1)}s)`;
    const frac = Math.min(1, this.done / total);
    const width = 30;
    const full = Math.round(frac * width);
    const eta = frac > 0 && frac < 1 ? ` eta ${((secs / frac) * (1 - frac)).toFixed(0)}s` : '';
    return `${label} [${'#'.repeat(full)}${'-'.repeat(width - full)}] ${(frac * 100).toFixed(1)}% ${this.done}/${total}${eta}`;
  }

  private draw(now: number): void {
    this.stream.write(`\r${this.render(now)}\x1b[K`);
  }
}
