// Quiet by default: Dawn's native code prints driver notices straight to file descriptor 2
// (`Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced …` on lavapipe), where no
// JS hook on process.stderr sees them and no Dawn toggle turns them off. So the `mnv2` command runs
// itself again as a child whose stderr is a pipe; this parent copies that pipe to its own stderr and
// drops exactly the known notice lines. Everything else (errors, progress redraws) passes through
// as it arrives. `--verbose` or MNV2_VERBOSE=1 runs in-process, with the notices.
//
// The child gets the terminal's stdin/stdout, a stderr that says it is a TTY when ours is (so
// progress bars redraw in place), its own process group (a terminal Ctrl-C reaches it once, through
// us), and an IPC channel whose closing tells it that we died (SIGKILL): it then dies too.
import { spawn } from 'node:child_process';

/** Lines Dawn prints on its own that say nothing to a user; each matched from the start of a line. */
export const DAWN_NOTICES: readonly RegExp[] = [
  /^Warning: maxDynamic(Uniform|Storage)BuffersPerPipelineLayout artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.\r?$/,
];
const NOTICE_PREFIXES = ['Warning: maxDynamicUniformBuffersPerPipelineLayout', 'Warning: maxDynamicStorageBuffersPerPipelineLayout'];

/** Set in the child's environment: "1", or "tty:COLUMNS" when the parent's stderr is a terminal. */
const CHILD_ENV = 'MNV2_STDERR_FILTERED';

export function isVerbose(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): boolean {
  return argv.includes('--verbose') || /^(1|true|yes)$/i.test(env.MNV2_VERBOSE ?? '');
}

/**
 * A line filter over a byte stream: `push(chunk)` returns what may be written now. Complete lines
 * that are Dawn notices are dropped; a trailing partial line is held back only while it could still
 * become one (so `\r` progress redraws are never delayed).
 */
export class NoticeFilter {
  private held = '';

  push(chunk: string): string {
    const text = this.held + chunk;
    this.held = '';
    let out = '';
    let start = 0;
    for (let nl = text.indexOf('\n', start); nl !== -1; nl = text.indexOf('\n', start)) {
      const line = text.slice(start, nl);
      if (!DAWN_NOTICES.some((re) => re.test(line))) out += `${line}\n`;
      start = nl + 1;
    }
    const rest = text.slice(start);
    if (rest.length > 0 && NOTICE_PREFIXES.some((p) => p.startsWith(rest) || rest.startsWith(p))) this.held = rest;
    else out += rest;
    return out;
  }

  /** What is held at the end of the stream (a partial line that never completed). */
  end(): string {
    const rest = this.held;
    this.held = '';
    return rest;
  }
}

/** In the child: make process.stderr look like the parent's terminal; die with a parent that died. */
export function setUpChild(): boolean {
  const mark = process.env[CHILD_ENV];
  if (!mark) return false;
  delete process.env[CHILD_ENV];
  const tty = /^tty:(\d+)$/.exec(mark);
  if (tty) Object.assign(process.stderr, { isTTY: true, columns: Number(tty[1]) || 80 });
  const die = () => process.kill(process.pid, 'SIGKILL');
  // No channel or a closed one: the parent died before we got here (Node then sets up no channel).
  if (!process.channel || !process.connected) die();
  process.channel!.unref(); // the channel only signals the parent's death; it must not keep us alive
  process.on('disconnect', die);
  return true;
}

const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/**
 * In the parent: runs this same command as a child with stderr filtered, and resolves with its exit
 * status (or re-raises the signal that ended it). Costs one more Node start (~40 ms).
 */
export function runFiltered(): Promise<number> {
  return new Promise((resolve) => {
    const stderrTTY = process.stderr.isTTY ? `tty:${process.stderr.columns || 80}` : '1';
    const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
      stdio: ['inherit', 'inherit', 'pipe', 'ipc'],
      // Two glibc malloc arenas (unless the user set it): decoding on sharp's worker threads otherwise
      // spreads over up to 8 per core, whose fragmentation grows the process with the number of
      // images read (predict over 10,000 images: 509 MiB peak, 452 MiB with it; bench/results/scale-lavapipe.md).
      env: { MALLOC_ARENA_MAX: '2', ...process.env, [CHILD_ENV]: stderrTTY },
      detached: true, // own process group: Ctrl-C on a terminal reaches the child once, forwarded by us
    });
    child.channel?.unref();
    const forward = (sig: NodeJS.Signals) => () => {
      if (child.exitCode === null && child.signalCode === null) child.kill(sig);
    };
    const handlers = FORWARDED.map((sig) => [sig, forward(sig)] as const);
    for (const [sig, h] of handlers) process.on(sig, h);

    const filter = new NoticeFilter();
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      const out = filter.push(chunk);
      if (out) process.stderr.write(out);
    });
    let code: number | null = null;
    let signal: NodeJS.Signals | null = null;
    let pending = 2; // 'exit' and the end of the stderr pipe, in either order
    const done = () => {
      if (--pending > 0) return;
      const rest = filter.end();
      if (rest) process.stderr.write(rest);
      for (const [sig, h] of handlers) process.off(sig, h);
      if (signal) {
        process.kill(process.pid, signal); // end the way the child ended (a shell sees 130 for SIGINT)
        return;
      }
      resolve(code ?? 1);
    };
    child.stderr!.on('end', done);
    child.on('exit', (c, s) => {
      code = c;
      signal = s;
      done();
    });
    child.on('error', (err) => {
      process.stderr.write(`mnv2: could not start the command again with its output filtered (${err.message}); run with --verbose\n`);
      code = 1;
      pending = 1;
      done();
    });
  });
}
