/**
 * The simulated clock. Simulated time runs `speed` times faster than the real clock from a chosen
 * start; tests can set it to an instant or advance it. All market and order logic reads `now()`;
 * session timeouts, reply-id lifetimes and pacing use real time (they model the gateway, not the market).
 */
export class SimClock {
  private baseSim: number;
  private baseReal: number;
  private speedFactor: number;

  constructor(startMs: number, speed = 1, private readonly realNow: () => number = Date.now) {
    this.baseSim = startMs;
    this.baseReal = realNow();
    this.speedFactor = speed;
  }

  /** Simulated epoch milliseconds. */
  now(): number {
    return Math.floor(this.baseSim + (this.realNow() - this.baseReal) * this.speedFactor);
  }

  get speed(): number {
    return this.speedFactor;
  }

  setSpeed(speed: number): void {
    this.rebase(this.now());
    this.speedFactor = speed;
  }

  set(ms: number): void {
    this.rebase(ms);
  }

  advance(ms: number): void {
    this.rebase(this.now() + ms);
  }

  private rebase(simMs: number): void {
    this.baseSim = simMs;
    this.baseReal = this.realNow();
  }
}
