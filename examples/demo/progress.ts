// A one-line progress bar on stderr (stdout keeps the results table clean for piping). On a
// terminal it redraws in place; elsewhere (CI logs) it prints a line every tenth of the work.

/** What one update shows. */
export interface ProgressInfo {
  loss?: number;
  accuracy?: number;
}

/** A progress bar for `total` steps of the stage named `label`. */
export class ProgressBar {
  private readonly start = performance.now();
  private lastLine = -1;
  private readonly tty: boolean;

  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {
    this.tty = Boolean(stream.isTTY);
  }

  /** Shows step `done` (1-based) of `total`. */
  update(done: number, info: ProgressInfo = {}): void {
    const decile = Math.floor((10 * done) / this.total);
    if (!this.tty && decile === this.lastLine && done !== this.total) return;
    this.lastLine = decile;
    const width = 20;
    const filled = Math.min(width, Math.round((width * done) / this.total));
    const rate = done / Math.max((performance.now() - this.start) / 1000, 1e-9);
    const parts = [
      `${this.label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${this.total}`,
      info.loss === undefined ? '' : `loss ${info.loss.toFixed(3)}`,
      info.accuracy === undefined ? '' : `acc ${(100 * info.accuracy).toFixed(0)}%`,
      `${rate.toFixed(1)} steps/s`,
    ].filter((s) => s !== '');
    const line = parts.join('  ');
    if (this.tty) this.stream.write(`\r${line.padEnd(100)}${done === this.total ? '\n' : ''}`);
    else this.stream.write(`${line}\n`);
  }
}
