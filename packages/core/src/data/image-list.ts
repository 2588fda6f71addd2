// A dataset given as a list file instead of class folders: one `path,label` line per image (CSV;
// an optional `path,label` header; `#` comments and blank lines ignored; paths relative to the list
// file's folder, quoted with "" when they contain commas). Labels are class names (classes sorted as
// folder names are) or integers 0..K-1 (class names are then the numbers). The split is Keras'
// (seeded NumPy shuffle, last fraction = validation), as for folders.
import { DatasetError, splitSamples, type FolderDataset, type FolderDatasetOptions, type Sample } from './folder-dataset.js';

/** Splits one CSV line into fields ("" escapes a quote inside a quoted field). */
function csvFields(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') (cur += '"'), i++;
      else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') out.push(cur), (cur = '');
    else cur += c;
  }
  if (quoted) throw new Error('unterminated quote');
  out.push(cur);
  return out.map((f) => f.trim());
}

const byCodePoint = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Parses a `path,label` list into the same dataset shape as `folderDataset`. `file` names the list in errors. */
export function imageListDataset(text: string, opts: FolderDatasetOptions & { file?: string } = {}): FolderDataset {
  const file = opts.file ?? 'the image list';
  const rows: { path: string; label: string; line: number }[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    let f: string[];
    try {
      f = csvFields(line);
    } catch {
      throw new DatasetError(`${file}, line ${i + 1}: unterminated quote in '${line}'`);
    }
    if (rows.length === 0 && f.length === 2 && f[0].toLowerCase() === 'path' && f[1].toLowerCase() === 'label') return; // header
    if (f.length !== 2 || !f[0] || !f[1]) throw new DatasetError(`${file}, line ${i + 1}: expected 'path,label', got '${line}'`);
    rows.push({ path: f[0], label: f[1], line: i + 1 });
  });
  if (rows.length === 0) throw new DatasetError(`${file} lists no images: write one 'path,label' line per image`);
  const numeric = rows.every((r) => /^\d+$/.test(r.label));
  let classNames: string[];
  if (numeric) {
    for (const r of rows) r.label = String(Number(r.label)); // '01' and '1' are one class
    const k = Math.max(...rows.map((r) => Number(r.label))) + 1;
    classNames = Array.from({ length: k }, (_, i) => String(i));
    const used = new Set(rows.map((r) => Number(r.label)));
    const missing = classNames.filter((_, i) => !used.has(i));
    if (missing.length) throw new DatasetError(`${file}: integer labels must cover 0..${k - 1}, but no image has label ${missing.join(', ')}`);
  } else {
    classNames = [...new Set(rows.map((r) => r.label))].sort(byCodePoint);
  }
  if (classNames.length < 2) throw new DatasetError(`${file}: every image has label '${classNames[0]}': a classifier needs at least two classes`);
  const index = new Map(classNames.map((c, i) => [c, i]));
  const samples: Sample[] = rows.map((r) => {
    const slash = Math.max(r.path.lastIndexOf('/'), r.path.lastIndexOf('\\'));
    return { path: r.path, className: classNames[index.get(r.label)!], file: r.path.slice(slash + 1), label: index.get(r.label)! };
  });
  return splitSamples(samples, classNames, opts);
}
