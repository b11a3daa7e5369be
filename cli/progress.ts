// A progress bar for long CLI runs: drawn in place on a terminal, silent otherwise.

export class ProgressBar {
  private readonly tty: boolean;
  private lastDraw = 0;

  constructor(private readonly stream: NodeJS.WriteStream, private readonly total: number, private readonly label: string) {
    this.tty = stream.isTTY === true;
  }

  update(done: number): void {
    if (!this.tty) return;
    const now = Date.now();
    if (now - this.lastDraw < 100) return;
    this.lastDraw = now;
    this.draw(done);
  }

  done(done: number): void {
    if (!this.tty) return;
    this.draw(done);
    this.stream.write('\n');
  }

  private draw(done: number): void {
    const width = 30;
    const frac = this.total > 0 ? Math.min(1, done / this.total) : 1;
    const full = Math.round(frac * width);
    this.stream.write(`\r${this.label} [${'#'.repeat(full)}${'.'.repeat(width - full)}] ${(frac * 100).toFixed(0).padStart(3)}% ${done}/${this.total}`);
  }
}
