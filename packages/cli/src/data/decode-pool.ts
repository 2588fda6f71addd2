// Image decoding on worker threads, so that reading files, JPEG decoding (sharp/libvips) and the
// copies around them stay off the thread that drives the GPU. Requests are spread over the workers
// (fewest in flight first); each worker decodes several images at once. A worker that dies fails
// its requests with the reason and is replaced. Without the built worker script (running from
// sources) or with MNV2_DECODE_WORKERS=0, `sharedDecodePool()` is null and callers decode in-process.
import { existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { DecodedImage } from './decode.js';
import type { DecodeReply, DecodeRequest } from './decode-worker.js';

interface Slot {
  worker: Worker;
  inFlight: Map<number, { path: string; resolve: (d: DecodedImage) => void; reject: (e: Error) => void }>;
}

export class DecodePool {
  private slots: Slot[] = [];
  private nextId = 1;
  private closed = false;

  constructor(
    readonly size: number,
    private readonly script: string,
  ) {
    if (!Number.isInteger(size) || size < 1) throw new Error(`DecodePool: size must be a positive integer, got ${size}`);
    for (let i = 0; i < size; i++) this.slots.push(this.spawn());
  }

  private spawn(): Slot {
    const worker = new Worker(this.script);
    worker.unref(); // idle workers never keep the process alive
    const slot: Slot = { worker, inFlight: new Map() };
    worker.on('message', (m: DecodeReply) => {
      const req = slot.inFlight.get(m.id);
      if (!req) return;
      slot.inFlight.delete(m.id);
      if (slot.inFlight.size === 0) worker.unref();
      if ('error' in m) req.reject(new Error(m.error));
      else req.resolve({ path: req.path, width: m.width, height: m.height, rgb: m.rgb });
    });
    const fail = (why: string) => {
      for (const r of slot.inFlight.values()) r.reject(new Error(`cannot decode image '${r.path}': the decode worker ${why}`));
      slot.inFlight.clear();
      const i = this.slots.indexOf(slot);
      if (i >= 0 && !this.closed) this.slots[i] = this.spawn();
    };
    worker.on('error', (e) => fail(`failed (${e.message})`));
    worker.on('exit', (code) => {
      if (!this.closed) fail(`exited (code ${code})`);
    });
    return slot;
  }

  /** Decodes one file on the least busy worker. Rejects with "cannot decode image '<path>': <reason>". */
  decode(path: string): Promise<DecodedImage> {
    if (this.closed) return Promise.reject(new Error('DecodePool: closed'));
    const slot = this.slots.reduce((a, b) => (b.inFlight.size < a.inFlight.size ? b : a));
    const id = this.nextId++;
    return new Promise<DecodedImage>((resolve, reject) => {
      slot.inFlight.set(id, { path, resolve, reject });
      slot.worker.ref(); // keep the process alive while a decode is pending
      slot.worker.postMessage({ id, path } satisfies DecodeRequest);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
    this.slots = [];
  }
}

/** The built worker script next to this module (dist/data/decode-worker.js), or null from sources. */
export function decodeWorkerScript(): string | null {
  for (const rel of ['./data/decode-worker.js', './decode-worker.js']) {
    const p = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(p)) return p;
  }
  return null;
}

let shared: DecodePool | null | undefined;

/** One pool per process: MNV2_DECODE_WORKERS workers (default 2, at most the CPU count); null = decode in-process. */
export function sharedDecodePool(): DecodePool | null {
  if (shared !== undefined) return shared;
  const env = process.env.MNV2_DECODE_WORKERS;
  const fallback = Math.min(2, cpus().length);
  let n = env !== undefined && env !== '' ? Number(env) : fallback;
  if (!Number.isInteger(n) || n < 0) {
    console.error(`[mnv2] MNV2_DECODE_WORKERS must be a non-negative integer, got '${env}': using ${fallback}`);
    n = fallback;
  }
  const script = decodeWorkerScript();
  shared = n > 0 && script ? new DecodePool(n, script) : null;
  return shared;
}
