// Issue 13: image decoding on worker threads (the built CLI's decode worker): the same RGB bytes as
// decoding in-process, failures named by path, and a training split that decodes through the pool.
import { describe, it, beforeAll, afterAll, expect } from 'vitest';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { buildCli, ROOT, ALPACA } from '../helpers/cli.js';
import { DecodePool } from '../../packages/cli/src/data/decode-pool.js';
import { decodeImage } from '../../packages/cli/src/data/decode.js';

const SCRIPT = join(ROOT, 'packages/cli/dist/data/decode-worker.js');

describe('decode pool (worker threads)', () => {
  let pool: DecodePool;
  beforeAll(() => {
    buildCli();
    pool = new DecodePool(2, SCRIPT);
  });
  afterAll(() => pool.close());

  it('decodes to the same bytes as in-process decoding, many at once', async () => {
    const files = readdirSync(join(ALPACA, 'alpaca')).sort().slice(0, 12).map((f) => join(ALPACA, 'alpaca', f));
    const [viaPool, local] = await Promise.all([Promise.all(files.map((f) => pool.decode(f))), Promise.all(files.map((f) => decodeImage(f)))]);
    viaPool.forEach((d, i) => {
      expect(d.path).toBe(files[i]);
      expect([d.width, d.height]).toEqual([local[i].width, local[i].height]);
      expect(d.rgb.length).toBe(d.width * d.height * 3);
      expect(Buffer.from(d.rgb).equals(Buffer.from(local[i].rgb))).toBe(true);
    });
  });

  it('names a missing or undecodable file, and keeps working after it', async () => {
    await expect(pool.decode('/no/such/dir/x.jpg')).rejects.toThrow("cannot decode image '/no/such/dir/x.jpg': no such file");
    await expect(pool.decode(join(ROOT, 'package.json'))).rejects.toThrow(/cannot decode image '.*package\.json'/);
    const f = join(ALPACA, 'alpaca', readdirSync(join(ALPACA, 'alpaca')).sort()[0]);
    expect((await pool.decode(f)).width).toBeGreaterThan(0);
  });
});
