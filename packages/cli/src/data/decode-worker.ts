// A decode worker thread of `DecodePool`: reads and decodes image files (sharp/libvips, BMP by our
// parser) and sends back RGB bytes, transferred (no copy on the receiving side).
import { parentPort } from 'node:worker_threads';
import { decodeImage } from './decode.js';

export interface DecodeRequest {
  id: number;
  path: string;
}

export type DecodeReply = { id: number; width: number; height: number; rgb: Uint8Array } | { id: number; error: string };

const port = parentPort;
if (port) {
  port.on('message', (m: DecodeRequest) => {
    decodeImage(m.path).then(
      (d) => {
        const rgb = new Uint8Array(d.rgb); // an ArrayBuffer of its own, so it can be transferred
        port.postMessage({ id: m.id, width: d.width, height: d.height, rgb } satisfies DecodeReply, [rgb.buffer]);
      },
      (e: unknown) => port.postMessage({ id: m.id, error: e instanceof Error ? e.message : String(e) } satisfies DecodeReply),
    );
  });
}
