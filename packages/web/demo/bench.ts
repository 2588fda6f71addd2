import { Mnv2Client, type BenchRow } from '../src/index.js';

const $ = <T extends HTMLElement = HTMLElement>(s: string) => document.querySelector<T>(s)!;
const state = { rows: [] as BenchRow[], done: false, error: null as string | null };
(window as unknown as { mnv2bench: typeof state }).mnv2bench = state;

function fail(text: string): void {
  state.error = text;
  $('#banner-text').textContent = text;
  $('#banner').hidden = false;
}

let client: Mnv2Client | null = null;
async function run(): Promise<void> {
  const btn = $<HTMLButtonElement>('#run');
  btn.disabled = true;
  state.rows = [];
  state.done = false;
  const body = $('#bench-table tbody');
  body.replaceChildren();
  try {
    client ??= await Mnv2Client.create();
    const a = client.adapter!;
    $('#gpu-status').textContent = `WebGPU: ${[a.vendor, a.architecture, a.description].filter(Boolean).join(' / ')}`;
    $('#bench-status').textContent = 'running (the first run of each op includes its shader compile)…';
    const size = Number($<HTMLSelectElement>('#size').value);
    await client.bench({ quick: size < 224 }, (r) => {
      state.rows.push(r);
      const tr = document.createElement('tr');
      for (const [v, num] of [[r.op, false], [r.shape, false], [r.ms.toFixed(3), true], [r.gflops.toFixed(2), true], [String(r.runs), true]] as const) {
        const td = document.createElement('td');
        td.textContent = v;
        if (num) td.className = 'num';
        tr.append(td);
      }
      body.append(tr);
    });
    $('#bench-status').textContent = `done: ${state.rows.length} ops`;
    state.done = true;
  } catch (e) {
    fail(`Benchmark failed: ${e instanceof Error ? e.message : String(e)}`);
    $('#bench-status').textContent = '';
  } finally {
    btn.disabled = false;
  }
}
$('#run').onclick = () => void run();
const q = new URLSearchParams(location.search);
if (q.get('size')) $<HTMLSelectElement>('#size').value = q.get('size')!;
if (q.has('autorun')) void run();
