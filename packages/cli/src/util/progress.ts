// A progress line for long CLI operations (downloads, batches): label, bar, current/total, rate, ETA.
// On a terminal it redraws one line in place (throttled); elsewhere (a pipe, a CI log) it prints a
// plain line at every `logEvery` fraction (or every `logIntervalMs` when the total is unknown), so
// logs stay short. Always on stderr by default: stdout stays clean for results.

export interface ProgressStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressOptions {
  label: string;
  /** Total units; undefined when unknown (then no bar, %, or ETA). */
  total?: number;
  /** 'bytes' prints KiB/MiB and B/s; 'items' prints plain counts and /s. */
  unit?: 'bytes' | 'items';
  stream?: ProgressStream;
  /** Redraw in place (default: the stream is a TTY). */
  tty?: boolean;
  /** Minimum time between redraws on a TTY (default 100 ms). */
  intervalMs?: number;
  /** Non-TTY: log at every this fraction of the total (default 0.25). */
  logEvery?: number;
  /** Non-TTY, unknown total: log at most this often (default 10 s). */
  logIntervalMs?: number;
  /** Units already there before this run (a resumed download): counted in current, not in the rate. */
  initial?: number;
  /** Clock in ms (tests). */
  now?: () => number;
}

const KIB = 1024;

/** 1023 B, 1.5 KiB, 12.3 MiB, 1.20 GiB. */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return '?';
  if (n < KIB) return `${Math.round(n)} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / KIB;
  let i = 0;
  while (v >= KIB && i < units.length - 1) {
    v /= KIB;
    i++;
  }
  return `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)} ${units[i]}`;
}

/** 0s, 42s, 3m05s, 1h02m. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export class Progress {
  readonly label: string;
  total: number | undefined;
  current: number;
  private readonly unit: 'bytes' | 'items';
  private readonly stream: ProgressStream;
  private readonly tty: boolean;
  private readonly intervalMs: number;
  private readonly logEvery: number;
  private readonly logIntervalMs: number;
  private readonly now: () => number;
  private readonly started: number;
  private readonly initial: number;
  /** (time, value) samples of the last few seconds, for the rate. */
  private samples: [number, number][] = [];
  private lastDraw = -Infinity;
  private lastLogStep = -1;
  private lastLogTime: number;
  private drawnWidth = 0;
  private finished = false;

  constructor(opts: ProgressOptions) {
    this.label = opts.label;
    this.total = opts.total;
    this.unit = opts.unit ?? 'items';
    this.stream = opts.stream ?? process.stderr;
    this.tty = opts.tty ?? !!this.stream.isTTY;
    this.intervalMs = opts.intervalMs ?? 100;
    this.logEvery = opts.logEvery ?? 0.25;
    this.logIntervalMs = opts.logIntervalMs ?? 10_000;
    this.now = opts.now ?? (() => performance.now());
    this.initial = opts.initial ?? 0;
    this.current = this.initial;
    this.started = this.now();
    this.lastLogTime = this.started;
    this.samples.push([this.started, this.current]);
    if (this.initial > 0 && this.total !== undefined) this.lastLogStep = Math.floor(this.initial / this.total / this.logEvery);
  }

  /** Units per second over the last ~5 s (since the start when shorter). */
  rate(): number {
    const [t0, v0] = this.samples[0];
    const [t1, v1] = this.samples[this.samples.length - 1];
    const dt = (t1 - t0) / 1000;
    return dt > 0 ? (v1 - v0) / dt : 0;
  }

  /** Seconds left at the current rate, or undefined. */
  eta(): number | undefined {
    const r = this.rate();
    if (this.total === undefined || r <= 0) return undefined;
    return Math.max(0, (this.total - this.current) / r);
  }

  private amount(n: number): string {
    return this.unit === 'bytes' ? formatBytes(n) : String(Math.round(n));
  }

  /** The progress text (without control characters). */
  text(final = false): string {
    const parts = [this.label];
    const r = final ? (this.current - this.initial) / Math.max(1e-9, (this.now() - this.started) / 1000) : this.rate();
    const rateText = r > 0 ? `${this.unit === 'bytes' ? formatBytes(r) : r.toFixed(1)}/s` : '';
    if (this.total !== undefined && this.total > 0) {
      const frac = Math.min(1, this.current / this.total);
      const width = 24;
      const fill = Math.round(frac * width);
      parts.push(`[${'#'.repeat(fill)}${'.'.repeat(width - fill)}]`, `${(frac * 100).toFixed(frac < 1 ? 1 : 0).padStart(final ? 0 : 5)}%`, `${this.amount(this.current)}/${this.amount(this.total)}`);
    } else parts.push(this.amount(this.current));
    if (rateText) parts.push(rateText);
    if (final) parts.push(`in ${formatDuration((this.now() - this.started) / 1000)}`);
    else {
      const eta = this.eta();
      if (eta !== undefined && this.current < (this.total ?? Infinity)) parts.push(`ETA ${formatDuration(eta)}`);
    }
    return parts.join(' ');
  }

  /** Sets the current amount (and the total, when it becomes known). */
  update(current: number, total?: number): void {
    if (this.finished) return;
    if (total !== undefined) this.total = total;
    this.current = current;
    const t = this.now();
    this.samples.push([t, current]);
    while (this.samples.length > 2 && t - this.samples[0][0] > 5000) this.samples.shift();
    if (this.tty) {
      if (t - this.lastDraw >= this.intervalMs) this.draw(this.text());
      return;
    }
    if (this.total !== undefined && this.total > 0) {
      const step = Math.floor(current / this.total / this.logEvery);
      if (step > this.lastLogStep && current < this.total) {
        this.lastLogStep = step;
        this.stream.write(`${this.text()}\n`);
      }
    } else if (t - this.lastLogTime >= this.logIntervalMs) {
      this.lastLogTime = t;
      this.stream.write(`${this.text()}\n`);
    }
  }

  add(n: number): void {
    this.update(this.current + n);
  }

  private draw(line: string): void {
    const cols = this.stream.columns ?? 100;
    const shown = line.length > cols - 1 ? line.slice(0, Math.max(0, cols - 1)) : line;
    this.stream.write(`\r${shown}\x1b[K`);
    this.drawnWidth = shown.length;
    this.lastDraw = this.now();
  }

  /** Erases the in-place line (TTY), e.g. before printing a message. */
  clear(): void {
    if (this.tty && this.drawnWidth > 0) {
      this.stream.write('\r\x1b[K');
      this.drawnWidth = 0;
      this.lastDraw = -Infinity;
    }
  }

  /** Prints the final line (totals, average rate, time) and stops. */
  done(suffix = ''): void {
    if (this.finished) return;
    this.finished = true;
    const line = `${this.text(true)}${suffix ? ` ${suffix}` : ''}`;
    if (this.tty) this.clear();
    this.stream.write(`${line}\n`);
  }

  /** Stops without a final line (clears the in-place line; a message may follow). */
  stop(): void {
    if (this.finished) return;
    this.finished = true;
    this.clear();
  }
}
