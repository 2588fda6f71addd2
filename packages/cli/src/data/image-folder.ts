// A folder-per-class image dataset on disk (Keras image_dataset_from_directory layout): lists the
// class folders and their image files, and loads images by sample for training. Undecodable files
// are reported by name and skipped, not fatal.
import { readdir, stat } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import { DatasetError, type FitImage, type FolderListing, type ImageSplitSource, type Sample } from '@mnv2/core';
import { decodeImage, IMAGE_EXTENSIONS } from './decode.js';
import { sharedDecodePool } from './decode-pool.js';

/**
 * Image files per class sub-folder, nested folders included as Keras' image_dataset_from_directory
 * walks them ('sub/x.jpg', relative to the class folder; hidden entries ignored; symbolic links to
 * files are followed, to folders inside a class are not, as Keras' follow_links=False).
 */
export async function listImageFolder(root: string): Promise<FolderListing> {
  let st;
  try {
    st = await stat(root);
  } catch {
    throw new DatasetError(`dataset folder '${root}' does not exist: pass a folder with one sub-folder of images per class`);
  }
  if (!st.isDirectory()) throw new DatasetError(`'${root}' is not a folder: pass a folder with one sub-folder of images per class`);
  const listing: Record<string, string[]> = {};
  for (const d of await readdir(root, { withFileTypes: true })) {
    if (d.name.startsWith('.')) continue;
    if (!d.isDirectory() && !(d.isSymbolicLink() && (await stat(join(root, d.name))).isDirectory())) continue;
    listing[d.name] = await imagesUnder(join(root, d.name), '');
  }
  return listing;
}

async function imagesUnder(dir: string, rel: string): Promise<string[]> {
  const out: string[] = [];
  for (const f of await readdir(join(dir, rel), { withFileTypes: true })) {
    if (f.name.startsWith('.')) continue;
    const path = rel ? `${rel}/${f.name}` : f.name;
    if (f.isDirectory()) out.push(...(await imagesUnder(dir, path)));
    else if ((f.isFile() || f.isSymbolicLink()) && IMAGE_EXTENSIONS.includes(extname(f.name).toLowerCase())) out.push(path);
  }
  return out;
}

export interface BadImage {
  path: string;
  reason: string;
}

/** Loads samples of one split from disk, decoding on the shared worker pool when there is one (else in-process). */
export class FolderSplitSource implements ImageSplitSource {
  readonly labels: number[];
  /** Files that could not be decoded (filled as they are met). */
  readonly bad: BadImage[] = [];

  constructor(
    readonly root: string,
    readonly samples: readonly Sample[],
    private readonly onBad?: (b: BadImage) => void,
  ) {
    this.labels = samples.map((s) => s.label);
  }

  async load(indices: readonly number[]): Promise<(FitImage | null)[]> {
    return Promise.all(
      indices.map(async (i) => {
        const path = resolve(this.root, this.samples[i].path);
        try {
          const img = await (sharedDecodePool()?.decode(path) ?? decodeImage(path));
          return { width: img.width, height: img.height, rgb: img.rgb };
        } catch (e) {
          const b = { path, reason: e instanceof Error ? e.message : String(e) };
          if (!this.bad.some((x) => x.path === path)) {
            this.bad.push(b);
            this.onBad?.(b);
          }
          return null;
        }
      }),
    );
  }
}
