// Every file the CLI writes for the user (checkpoints, models, curves) goes through here: a temp
// file beside the target, fsync, rename. A crash or kill leaves the old file or the new one, never
// half of one; a failed write removes its temp file.
// Failures (read-only folder, full disk, permissions) name the path and what to do.
import { open, rename, rm } from 'node:fs/promises';
import { withFsErrors } from './fs-errors.js';

export async function writeAtomic(path: string, data: Uint8Array | string): Promise<void> {
  await withFsErrors(path, 'write', async () => {
    const tmp = `${path}.tmp-${process.pid}`;
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(data);
      await fh.sync();
    } catch (e) {
      await fh.close().catch(() => {});
      await rm(tmp, { force: true });
      throw e;
    }
    await fh.close();
    await rename(tmp, path);
  });
}
