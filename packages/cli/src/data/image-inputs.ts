// Image paths named on a command line (classify, predict): files as given, folders expanded to
// their image files (sorted; hidden entries skipped). Errors name the command and the path.
import { readdir, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { IMAGE_EXTENSIONS } from './decode.js';
import { fsErrorMessage } from '../util/fs-errors.js';

export async function expandImageInputs(inputs: readonly string[], cmd: string): Promise<string[]> {
  const files: string[] = [];
  for (const p of inputs) {
    let st;
    try {
      st = await stat(p);
    } catch (e) {
      throw new Error(`${cmd}: ${fsErrorMessage(e, p, 'read')}`);
    }
    if (st.isDirectory()) {
      const imgs = (await readdir(p, { withFileTypes: true }))
        .filter((d) => (d.isFile() || d.isSymbolicLink()) && !d.name.startsWith('.') && IMAGE_EXTENSIONS.includes(extname(d.name).toLowerCase()))
        .map((d) => d.name)
        .sort();
      if (imgs.length === 0) throw new Error(`${cmd}: folder '${p}' has no images (${IMAGE_EXTENSIONS.join(' ')})`);
      files.push(...imgs.map((f) => join(p, f)));
    } else files.push(p);
  }
  return files;
}
