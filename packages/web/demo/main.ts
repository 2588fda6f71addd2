// The demo: classify with an ImageNet MobileNetV2, teach new classes (Teachable-Machine style), save
// and load the trained model, and look at the adapter. Everything GPU runs in the engine worker.
import { Mnv2Client, checkWebGPU, type ClassifyResult, type FitSummary, type Model, type Trainer, type TrainEvent, type LoadProgress } from '../src/index.js';

const DEFAULT_WEIGHTS = './weights/tflite/keras_mobilenetv2_1.00_224_imagenet_int8_ptq.tflite';
const DEFAULT_LABELS = './weights/labels/imagenet_class_index.json';
const params = new URLSearchParams(location.search);
const WEIGHTS = params.get('weights') ?? DEFAULT_WEIGHTS;
const LABELS = params.get('labels') ?? DEFAULT_LABELS;
const BASE = params.get('base') ?? WEIGHTS;

const $ = <T extends HTMLElement = HTMLElement>(sel: string) => document.querySelector<T>(sel)!;
function el<K extends keyof HTMLElementTagNameMap>(tag: K, props: Record<string, unknown> = {}, ...kids: (Node | string)[]): HTMLElementTagNameMap[K] {
  const n = Object.assign(document.createElement(tag), props);
  n.append(...kids);
  return n;
}
const msg = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** Hooks for the end-to-end tests (and the curious): the client and the last results. */
const demo = {
  client: null as Mnv2Client | null,
  model: null as Model | null,
  trainer: null as Trainer | null,
  ready: false,
  lastClassify: null as ClassifyResult[] | null,
  lastTry: null as ClassifyResult[] | null,
  lastFit: null as FitSummary | null,
  events: [] as TrainEvent[],
  progress: [] as LoadProgress[],
  errors: [] as string[],
};
(window as unknown as { mnv2demo: typeof demo }).mnv2demo = demo;

// ---- banner ------------------------------------------------------------------------------------

function showError(text: string, opts: { recover?: boolean } = {}): void {
  demo.errors.push(text);
  $('#banner-text').textContent = text;
  $('#recover').hidden = !opts.recover;
  $('#banner').hidden = false;
}
$('#banner-close').onclick = () => ($('#banner').hidden = true);

async function guarded<T>(what: string, fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (e) {
    showError(`${what}: ${msg(e)}`, { recover: !!demo.client?.deviceLost });
    return undefined;
  }
}

// ---- tabs --------------------------------------------------------------------------------------

for (const b of document.querySelectorAll<HTMLButtonElement>('nav button[data-tab]')) {
  b.onclick = () => {
    for (const o of document.querySelectorAll<HTMLButtonElement>('nav button[data-tab]')) o.setAttribute('aria-selected', String(o === b));
    for (const s of document.querySelectorAll<HTMLElement>('.tab')) s.hidden = s.id !== `tab-${b.dataset.tab}`;
    if (b.dataset.tab === 'adapter') void renderAdapter();
  };
}

// ---- results -----------------------------------------------------------------------------------

function renderResults(container: HTMLElement, files: (Blob | null)[], results: ClassifyResult[]): void {
  container.replaceChildren(
    ...results.map((r, i) => {
      const img = el('img', { alt: '' });
      const f = files[i];
      if (f) img.src = URL.createObjectURL(f);
      const list = el(
        'ol',
        {},
        ...r.top.map((p) => {
          const fill = el('div');
          fill.style.width = `${(100 * p.probability).toFixed(1)}%`;
          return el('li', { className: 'pred' }, el('div', { className: 'name' }, el('span', { className: 'label' }, p.label), el('span', { className: 'pct' }, `${(100 * p.probability).toFixed(1)}%`)), el('div', { className: 'bar' }, fill));
        }),
      );
      return el('div', { className: 'result' }, img, list);
    }),
  );
}

async function frameOf(video: HTMLVideoElement): Promise<Blob> {
  const c = el('canvas', { width: video.videoWidth, height: video.videoHeight });
  c.getContext('2d')!.drawImage(video, 0, 0);
  return new Promise((res, rej) => c.toBlob((b) => (b ? res(b) : rej(new Error('could not capture the frame'))), 'image/png'));
}

async function startCam(video: HTMLVideoElement): Promise<boolean> {
  if (!navigator.mediaDevices?.getUserMedia) {
    showError('This browser gives no webcam access here (it needs https:// or localhost).');
    return false;
  }
  try {
    video.srcObject = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 } });
    await video.play();
    return true;
  } catch (e) {
    showError(`Webcam: ${msg(e)}`);
    return false;
  }
}
function stopCam(video: HTMLVideoElement): void {
  (video.srcObject as MediaStream | null)?.getTracks().forEach((t) => t.stop());
  video.srcObject = null;
}

function dropTarget(zone: HTMLElement, onFiles: (files: File[]) => void): void {
  zone.addEventListener('dragover', (ev) => {
    ev.preventDefault();
    zone.classList.add('over');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (ev) => {
    ev.preventDefault();
    zone.classList.remove('over');
    void filesFromDrop(ev.dataTransfer!).then(onFiles);
  });
}

/** Files of a drop, folders walked recursively (images only). */
async function filesFromDrop(dt: DataTransfer): Promise<File[]> {
  const entries = [...dt.items].map((i) => i.webkitGetAsEntry?.()).filter((e): e is FileSystemEntry => !!e);
  if (entries.length === 0) return [...dt.files].filter(isImage);
  const out: File[] = [];
  const walk = async (e: FileSystemEntry): Promise<void> => {
    if (e.isFile) out.push(await new Promise<File>((res, rej) => (e as FileSystemFileEntry).file(res, rej)));
    else if (e.isDirectory) {
      const reader = (e as FileSystemDirectoryEntry).createReader();
      for (;;) {
        const batch = await new Promise<FileSystemEntry[]>((res, rej) => reader.readEntries(res, rej));
        if (batch.length === 0) break;
        for (const c of batch) await walk(c);
      }
    }
  };
  for (const e of entries) await walk(e);
  return out.filter(isImage);
}
const isImage = (f: File) => f.type.startsWith('image/') || /\.(jpe?g|png|bmp|gif|webp)$/i.test(f.name);

// ---- classify ----------------------------------------------------------------------------------

function progressText(p: LoadProgress): string {
  const mb = (n: number) => (n / 2 ** 20).toFixed(1);
  if (p.stage === 'download') return p.fromCache ? `reading from the cache… ${mb(p.loaded)} MB` : `downloading… ${mb(p.loaded)}${p.total ? ` / ${mb(p.total)}` : ''} MB`;
  if (p.stage === 'import') return 'reading the weights…';
  return 'uploading to the GPU…';
}

let loadToken = 0;
async function loadModel(source: string | File): Promise<void> {
  const client = demo.client;
  if (!client) return;
  const bar = $<HTMLProgressElement>('#load-progress');
  const status = $('#load-status');
  $<HTMLButtonElement>('#load-model').disabled = true;
  status.classList.remove('error');
  demo.ready = false;
  const token = ++loadToken; // progress messages may arrive after the call settled: ignore stale ones
  try {
    const old = demo.model;
    demo.model = await client.loadModel(source, {
      labels: LABELS,
      onProgress: (p) => {
        if (token !== loadToken) return;
        demo.progress.push(p);
        status.textContent = progressText(p);
        bar.value = p.stage === 'download' ? (p.total ? (0.8 * p.loaded) / p.total : 0.4) : p.stage === 'import' ? 0.85 : 0.95;
      },
    });
    void old?.dispose();
    loadToken++;
    bar.value = 1;
    const s = demo.model.summary;
    const t = s.timings;
    status.textContent = `Ready: ${s.description}${s.fromCache ? ' — from the cache' : ''} (${((t.download + t.import + (t.build ?? 0)) / 1000).toFixed(1)} s)`;
    demo.ready = true;
  } catch (e) {
    loadToken++;
    bar.value = 0;
    status.textContent = 'not loaded';
    status.classList.add('error');
    showError(`Could not load the model: ${msg(e)}`, { recover: !!client.deviceLost });
  } finally {
    $<HTMLButtonElement>('#load-model').disabled = false;
  }
}

async function classifyFiles(files: Blob[]): Promise<void> {
  if (!files.length) return;
  if (!demo.model) {
    showError('Load a model first.');
    return;
  }
  const out = $('#classify-results');
  out.replaceChildren(el('p', { className: 'muted' }, `classifying ${files.length} image${files.length > 1 ? 's' : ''}…`));
  const r = await guarded('Classification failed', () => demo.model!.classify(files, { top: 5, logits: true }));
  if (!r) {
    out.replaceChildren();
    return;
  }
  demo.lastClassify = r;
  renderResults(out, files, r);
}

$<HTMLInputElement>('#weights-url').value = WEIGHTS;
$('#load-model').onclick = () => void loadModel($<HTMLInputElement>('#weights-url').value.trim());
$<HTMLInputElement>('#weights-file').onchange = (ev) => {
  const f = (ev.target as HTMLInputElement).files?.[0];
  if (f) void loadModel(f);
};
$<HTMLInputElement>('#classify-file').onchange = (ev) => {
  const input = ev.target as HTMLInputElement;
  void classifyFiles([...(input.files ?? [])]);
  input.value = '';
};
dropTarget($('#classify-drop'), (files) => void classifyFiles(files));
$('#classify-webcam').onclick = async () => {
  if (await startCam($<HTMLVideoElement>('#classify-video'))) $('#classify-cam').hidden = false;
};
$('#classify-cam-stop').onclick = () => {
  stopCam($<HTMLVideoElement>('#classify-video'));
  $('#classify-cam').hidden = true;
};
$('#classify-snap').onclick = async () => void classifyFiles([await frameOf($<HTMLVideoElement>('#classify-video'))]);

// ---- teach -------------------------------------------------------------------------------------

interface ClassUi {
  name: string;
  thumbs: string[];
}
const classUi: ClassUi[] = [
  { name: 'Class 1', thumbs: [] },
  { name: 'Class 2', thumbs: [] },
];
let trainerStarting: Promise<Trainer | undefined> | null = null;

function trainer(): Promise<Trainer | undefined> {
  if (demo.trainer) return Promise.resolve(demo.trainer);
  trainerStarting ??= guarded('Could not prepare training', async () => {
    $('#teach-status').textContent = 'loading the base network…';
    const t = await demo.client!.createTrainer({ base: BASE, classes: classUi.map((c) => c.name), imageSize: Number($<HTMLSelectElement>('#image-size').value) });
    demo.trainer = t;
    $('#teach-status').textContent = '';
    return t;
  }).finally(() => (trainerStarting = null));
  return trainerStarting;
}

function renderClasses(): void {
  const counts = demo.trainer?.summary.counts ?? [];
  $('#classes').replaceChildren(
    ...classUi.map((c, i) => {
      const name = el('input', { type: 'text', value: c.name, ariaLabel: `Name of class ${i + 1}` });
      name.onchange = async () => {
        c.name = name.value.trim() || `Class ${i + 1}`;
        const t = await trainer();
        if (t) await guarded('Rename', () => t.renameClass(i, c.name));
      };
      const files = el('input', { type: 'file', accept: 'image/*', multiple: true, hidden: true, className: 'class-files' });
      files.onchange = () => void addToClass(i, [...(files.files ?? [])]).then(() => (files.value = ''));
      const folder = el('input', { type: 'file', multiple: true, hidden: true, className: 'class-folder' });
      folder.webkitdirectory = true;
      folder.onchange = () => void addToClass(i, [...(folder.files ?? [])].filter(isImage)).then(() => (folder.value = ''));
      const snap = el('button', { className: 'secondary', textContent: 'Webcam snapshot' });
      snap.onclick = () => void webcamSnapshot(i);
      const clear = el('button', { className: 'secondary', textContent: 'Clear' });
      clear.onclick = async () => {
        const t = await trainer();
        if (!t) return;
        await guarded('Clear', () => t.clearImages(i));
        c.thumbs = [];
        renderClasses();
      };
      const remove = el('button', { className: 'secondary', textContent: 'Remove', disabled: classUi.length <= 2 });
      remove.onclick = async () => {
        const t = await trainer();
        if (!t) return;
        await guarded('Remove', () => t.removeClass(i));
        classUi.splice(i, 1);
        renderClasses();
      };
      const card = el(
        'div',
        { className: 'class-card' },
        el(
          'div',
          { className: 'head' },
          name,
          el('span', { className: 'count' }, `${counts[i] ?? 0} images`),
          el('label', { className: 'button secondary' }, 'Add images', files),
          el('label', { className: 'button secondary' }, 'Add a folder', folder),
          snap,
          clear,
          remove,
        ),
        el('div', { className: 'thumbs' }, ...c.thumbs.slice(-24).map((src) => el('img', { src, alt: '' }))),
      );
      card.dataset.index = String(i);
      dropTarget(card, (fs) => void addToClass(i, fs));
      return card;
    }),
  );
}

async function addToClass(i: number, files: Blob[]): Promise<void> {
  if (!files.length) return;
  const t = await trainer();
  if (!t) return;
  $('#teach-status').textContent = `adding ${files.length} image${files.length > 1 ? 's' : ''}…`;
  const r = await guarded('Adding images failed', () => t.addImages(i, files));
  $('#teach-status').textContent = '';
  if (!r) return;
  if (r.errors.length) showError(`${r.errors.length} file${r.errors.length > 1 ? 's' : ''} could not be read: ${r.errors.join('; ')}`);
  classUi[i].thumbs.push(...files.slice(0, 24).map((f) => URL.createObjectURL(f)));
  renderClasses();
}

/** The Teach tab's webcam (shown while on): snapshots for classes and for "Try it". */
async function teachCam(): Promise<HTMLVideoElement | null> {
  const v = $<HTMLVideoElement>('#teach-video');
  if (!v.srcObject) {
    if (!(await startCam(v))) return null;
    $('#teach-cam').hidden = false;
  }
  return v;
}
$('#teach-cam-stop').onclick = () => {
  stopCam($<HTMLVideoElement>('#teach-video'));
  $('#teach-cam').hidden = true;
};
async function webcamSnapshot(i: number): Promise<void> {
  const v = await teachCam();
  if (v) await addToClass(i, [await frameOf(v)]);
}

$('#add-class').onclick = async () => {
  classUi.push({ name: `Class ${classUi.length + 1}`, thumbs: [] });
  if (demo.trainer) await guarded('Add class', () => demo.trainer!.addClass(classUi[classUi.length - 1].name));
  renderClasses();
};
$<HTMLSelectElement>('#image-size').onchange = async () => {
  if (demo.trainer) await guarded('Image size', () => demo.trainer!.setImageSize(Number($<HTMLSelectElement>('#image-size').value)));
};

// Curves: training loss per step (line), accuracy per epoch (dots), fine-tuning start marked.
function drawCurves(steps: number[], epochs: { acc: number; valAcc: number | null; stage: string }[]): void {
  const c = $<HTMLCanvasElement>('#curves');
  const g = c.getContext('2d')!;
  const W = c.width;
  const H = c.height;
  const pad = 30;
  g.clearRect(0, 0, W, H);
  g.strokeStyle = '#e3e7ef';
  g.strokeRect(pad, 8, W - pad - 8, H - pad - 8);
  g.fillStyle = '#667085';
  g.font = '11px system-ui';
  g.fillText('loss', 4, 16);
  g.fillText('accuracy', W - 60, 16);
  if (steps.length === 0) return;
  const maxL = Math.max(...steps, 1e-6);
  const x = (i: number, n: number) => pad + ((W - pad - 8) * (n <= 1 ? 0.5 : i / (n - 1)));
  const y = (v: number, max: number) => 8 + (H - pad - 8) * (1 - v / max);
  g.strokeStyle = '#2f6feb';
  g.lineWidth = 2;
  g.beginPath();
  steps.forEach((l, i) => (i ? g.lineTo(x(i, steps.length), y(l, maxL)) : g.moveTo(x(i, steps.length), y(l, maxL))));
  g.stroke();
  g.fillText(maxL.toFixed(3), 2, 30);
  epochs.forEach((ep, i) => {
    g.fillStyle = ep.stage === 'fine-tune' ? '#f79009' : '#12b76a';
    g.beginPath();
    g.arc(x(i, epochs.length), y(ep.acc, 1), 4, 0, 2 * Math.PI);
    g.fill();
    if (ep.valAcc !== null) {
      g.strokeStyle = '#12b76a';
      g.lineWidth = 1;
      g.beginPath();
      g.arc(x(i, epochs.length), y(ep.valAcc, 1), 6, 0, 2 * Math.PI);
      g.stroke();
    }
  });
}

const num = (sel: string) => Number($<HTMLInputElement>(sel).value);

$('#train').onclick = async () => {
  const t = await trainer();
  if (!t) return;
  const empty = t.summary.counts.map((n, i) => (n === 0 ? classUi[i].name : null)).filter((n): n is string => n !== null);
  if (empty.length) {
    showError(`Add images to ${empty.join(', ')} first.`);
    return;
  }
  const btn = $<HTMLButtonElement>('#train');
  const bar = $<HTMLProgressElement>('#train-progress');
  const status = $('#train-status');
  const log = $('#train-log');
  btn.disabled = true;
  log.textContent = '';
  demo.events = [];
  const steps: number[] = [];
  const epochs: { acc: number; valAcc: number | null; stage: string }[] = [];
  drawCurves(steps, epochs);
  const fineTune = $<HTMLInputElement>('#fine-tune').checked;
  const opts = {
    epochs: num('#epochs'),
    batchSize: num('#batch-size'),
    learningRate: num('#lr'),
    augment: $<HTMLInputElement>('#augment').checked,
    validationSplit: Number($<HTMLSelectElement>('#val-split').value),
    fineTuneAt: fineTune ? num('#fine-tune-at') : null,
    fineTuneEpochs: num('#fine-tune-epochs'),
  };
  const r = await guarded('Training failed', () =>
    t.fit(opts, (ev) => {
      demo.events.push(ev);
      if (ev.type === 'phase' || ev.type === 'cache-plan') log.textContent += `${ev.message}\n`;
      else if (ev.type === 'cache') status.textContent = `preparing ${ev.what} (${ev.split}) ${ev.done}/${ev.total}`;
      else if (ev.type === 'batch' && ev.phase === 'train') {
        steps.push(ev.loss);
        bar.value = (ev.epoch + ev.step / ev.steps) / ev.epochs;
        status.textContent = `epoch ${ev.epoch + 1}/${ev.epochs}, step ${ev.step}/${ev.steps} — loss ${ev.loss.toFixed(4)}`;
        drawCurves(steps, epochs);
      } else if (ev.type === 'epoch') {
        epochs.push({ acc: ev.accuracy, valAcc: ev.valAccuracy, stage: ev.stage });
        log.textContent += `epoch ${ev.epoch + 1}/${ev.epochs} (${ev.stage}) — loss ${ev.loss.toFixed(4)}, accuracy ${(100 * ev.accuracy).toFixed(1)}%${ev.valLoss !== null ? `, val_loss ${ev.valLoss.toFixed(4)}, val_accuracy ${(100 * ev.valAccuracy!).toFixed(1)}%` : ''} — ${ev.seconds.toFixed(1)} s\n`;
        drawCurves(steps, epochs);
      } else if (ev.type === 'diverged') log.textContent += `the loss became ${ev.loss}: stopped (try a lower learning rate)\n`;
    }),
  );
  btn.disabled = false;
  if (!r) {
    status.textContent = 'training failed';
    return;
  }
  demo.lastFit = r;
  bar.value = 1;
  const last = r.history[r.history.length - 1];
  const first = r.stepLosses[0];
  status.textContent = `Trained in ${r.seconds.toFixed(1)} s — loss ${first?.toFixed(4)} → ${last?.loss.toFixed(4)}, accuracy ${last ? (100 * last.accuracy).toFixed(1) : '-'}%`;
};

async function tryFiles(files: Blob[]): Promise<void> {
  if (!files.length) return;
  const t = demo.trainer;
  if (!t?.summary.trained) {
    showError('Train (or load) a model first.');
    return;
  }
  const r = await guarded('Classification failed', () => t.classify(files, { top: 5, logits: true }));
  if (!r) return;
  demo.lastTry = r;
  renderResults($('#try-results'), files, r);
}
$<HTMLInputElement>('#try-file').onchange = (ev) => {
  const input = ev.target as HTMLInputElement;
  void tryFiles([...(input.files ?? [])]).then(() => (input.value = ''));
};
$('#try-webcam').onclick = async () => {
  const v = await teachCam();
  if (v) await tryFiles([await frameOf(v)]);
};
$('#evaluate').onclick = async () => {
  const t = demo.trainer;
  if (!t?.summary.trained) return showError('Train (or load) a model first.');
  const r = await guarded('Evaluation failed', () => t.evaluate());
  if (r) $('#try-results').replaceChildren(el('p', {}, `On the ${r.images} examples: accuracy ${(100 * r.accuracy).toFixed(1)}%, loss ${r.loss.toFixed(4)}. Confusion (rows = true class): ${JSON.stringify(r.confusion)}`));
};

$('#save').onclick = async () => {
  const t = demo.trainer;
  if (!t?.summary.trained) return showError('Train a model first: there is nothing to save yet.');
  const blob = await guarded('Saving failed', () => t.download('mnv2-model.safetensors'));
  if (blob) $('#save-status').textContent = `saved mnv2-model.safetensors (${(blob.size / 2 ** 20).toFixed(1)} MB)`;
};
$('#save-onnx').onclick = async () => {
  const t = demo.trainer;
  if (!t?.summary.trained) return showError('Train a model first: there is nothing to export yet.');
  const blob = await guarded('ONNX export failed', () => t.downloadOnnx('mnv2-model.onnx'));
  if (blob) $('#save-status').textContent = `saved mnv2-model.onnx (${(blob.size / 2 ** 20).toFixed(1)} MB; input [N,${t.summary.imageSize},${t.summary.imageSize},3] in [-1,1], output logits)`;
};
for (const int8 of [false, true]) {
  $(int8 ? '#save-tflite-int8' : '#save-tflite').onclick = async () => {
    const t = demo.trainer;
    if (!t?.summary.trained) return showError('Train a model first: there is nothing to export yet.');
    const name = int8 ? 'mnv2-model-int8.tflite' : 'mnv2-model.tflite';
    const S = t.summary.imageSize;
    if (int8) $('#save-status').textContent = 'calibrating int8 on your images…';
    const blob = await guarded('TFLite export failed', () => t.downloadTflite(name, int8 ? { int8: true, inputType: 'uint8', outputType: 'uint8' } : {}));
    if (blob) {
      const io = int8 ? `input uint8 [1,${S},${S},3] (the pixels), output uint8 logits` : `input [1,${S},${S},3] in [-1,1], output logits`;
      $('#save-status').textContent = `saved ${name} (${(blob.size / 2 ** 20).toFixed(1)} MB; ${io})`;
    }
  };
}
$<HTMLInputElement>('#load-file').onchange = async (ev) => {
  const input = ev.target as HTMLInputElement;
  const f = input.files?.[0];
  input.value = '';
  if (!f) return;
  const t = await trainer();
  if (!t) return;
  const s = await guarded('Loading the model failed', () => t.load(f));
  if (!s) return;
  classUi.length = 0;
  classUi.push(...s.classes.map((name) => ({ name, thumbs: [] })));
  ($<HTMLSelectElement>('#image-size')).value = String(s.imageSize);
  renderClasses();
  $('#save-status').textContent = `loaded ${f.name}: ${s.classes.length} classes (${s.classes.join(', ')}), ${s.imageSize}x${s.imageSize}`;
};

// ---- adapter panel -----------------------------------------------------------------------------

function table(t: HTMLElement, rows: [string, string][], numeric = false): void {
  t.replaceChildren(...rows.map(([k, v]) => el('tr', {}, el('th', {}, k), el('td', { className: numeric ? 'num' : '' }, v))));
}
async function renderAdapter(): Promise<void> {
  const c = demo.client;
  if (!c?.adapter) return;
  const a = c.adapter;
  table($('#adapter-info'), [
    ['Vendor', a.vendor || '-'],
    ['Architecture', a.architecture || '-'],
    ['Device', a.device || '-'],
    ['Description', a.description || '-'],
    ['8-lane subgroup matmul', a.subgroups8 ? 'yes' : 'no (plain register-blocked form)'],
    ['Matmul variants', a.matmulVariants],
    ['Device state', c.deviceLost ? `lost (${c.deviceLost.reason})` : 'ok'],
  ]);
  $('#adapter-features').replaceChildren(...a.features.map((f) => el('span', {}, f)));
  table($('#adapter-limits'), Object.entries(a.limits).map(([k, v]) => [k, v.toLocaleString()] as [string, string]), true);
  const tm = (await guarded('Timings', () => c.timings())) ?? {};
  table($('#timings'), Object.entries(tm).map(([k, v]) => [k, `${v.toFixed(1)} ms`] as [string, string]), true);
}
$('#refresh-timings').onclick = () => void renderAdapter();
$('#clear-cache').onclick = async () => {
  const ok = await guarded('Cache', () => demo.client!.clearCache());
  $('#cache-status').textContent = ok ? 'cached weights removed' : 'nothing cached';
};

// ---- start -------------------------------------------------------------------------------------

async function start(): Promise<void> {
  renderClasses();
  const check = checkWebGPU();
  if (!check.ok) {
    $('#gpu-status').textContent = 'WebGPU unavailable';
    showError(check.message);
    return;
  }
  try {
    // ?maxBindingBytes=N pretends the adapter binds at most N bytes per buffer (tests: the paged paths)
    const forced = Number(new URLSearchParams(location.search).get('maxBindingBytes') ?? 0);
    demo.client = await Mnv2Client.create(forced > 0 ? { maxBindingBytes: forced } : {});
  } catch (e) {
    $('#gpu-status').textContent = 'WebGPU unavailable';
    showError(msg(e));
    return;
  }
  const c = demo.client;
  const a = c.adapter!;
  $('#gpu-status').textContent = `WebGPU: ${[a.vendor, a.architecture, a.description].filter(Boolean).join(' / ') || 'adapter'}`;
  c.onDeviceLost((info) => {
    demo.ready = false;
    $('#gpu-status').textContent = 'GPU device lost';
    showError(`The GPU device was lost (${info.reason}: ${info.message}). Your images and trained model are kept: press “Restart the GPU” to continue.`, { recover: true });
  });
  c.onCrash((err) => {
    $('#gpu-status').textContent = 'engine stopped';
    showError(err.message);
  });
  $('#recover').onclick = async () => {
    $('#recover').hidden = true;
    const ok = await guarded('Restarting the GPU failed', () => c.recover());
    if (!ok) return;
    $('#banner').hidden = true;
    $('#gpu-status').textContent = `WebGPU: ${[ok.vendor, ok.architecture].filter(Boolean).join(' / ')} (restarted)`;
    demo.ready = !!demo.model;
  };
  await loadModel($<HTMLInputElement>('#weights-url').value.trim());
}
void start();
