// `mnv2 weights fetch`: Keras' official MobileNetV2 ImageNet weights (.h5) into the local cache.
import { KERAS_ALPHAS, KERAS_INPUT_SIZES } from '@mnv2/core';
import { numberFlag, parseArgs } from '../util/args.js';
import { formatBytes } from '../util/progress.js';
import { defaultCacheDir, fetchKerasWeights, FetchError, KERAS_BASE_URL, kerasModelsDir, validateKerasChoice } from '../weights/fetch.js';

const fmtAlpha = (a: number) => (Number.isInteger(a) ? a.toFixed(1) : String(a));

const HELP = `mnv2 weights fetch [--alpha 1.0] [--size 224] [--no-top] [--cache-dir DIR] [--base-url URL]
                   [--sha256 HEX] [--force] [--retries N] [--quiet]

Downloads Keras' MobileNetV2 ImageNet weights, the file keras.applications.MobileNetV2(weights=
'imagenet') uses (mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{alpha}_{size}[_no_top].h5), checks
that it parses as those weights, and prints its path on stdout. Progress and messages go to stderr.

  --alpha A        Width: ${KERAS_ALPHAS.map(fmtAlpha).join(', ')} (default 1.0)
  --size S         Input size the weights were trained at: ${KERAS_INPUT_SIZES.join(', ')} (default 224)
  --no-top         The base without the 1000-class classifier (for transfer learning; smaller)
  --cache-dir DIR  Where to keep it (default $MNV2_CACHE, else ~/.cache/mnv2/weights;
                   now: ${defaultCacheDir()})
  --base-url URL   Server folder (default ${KERAS_BASE_URL})
  --sha256 HEX     Also require this SHA-256 (Keras publishes no hashes for these files)
  --force          Download again even if a verified copy is cached
  --retries N      Attempts after a dropped connection or stall, each resuming (default 4)
  --quiet          No progress bar or messages

A copy already in Keras' cache (${kerasModelsDir()}) is used where it is, without downloading.
Downloads go to <file>.part first and resume (HTTP Range) after an interruption or Ctrl-C; the
file gets its final name only once complete and verified. Without network access, download the
file elsewhere and put it in the cache folder.

Examples:
  mnv2 weights fetch
  mnv2 weights fetch --alpha 0.35 --size 96 --no-top
  mnv2 weights fetch --cache-dir ./weights --base-url http://mirror.example/keras/mobilenet_v2/`;

export async function weights(argv: string[]): Promise<number> {
  if (argv.length === 0 || argv.includes('--help') || argv.includes('-h')) {
    console.log(HELP);
    return argv.length === 0 ? 2 : 0;
  }
  const args = parseArgs(argv, { values: ['alpha', 'size', 'cache-dir', 'base-url', 'sha256', 'retries'], booleans: ['no-top', 'force', 'quiet'] }, 'weights');
  if (args.positionals[0] !== 'fetch' || args.positionals.length > 1) {
    console.error(`mnv2 weights: expected 'mnv2 weights fetch [options]', got '${args.positionals.join(' ')}'. See 'mnv2 weights --help'.`);
    return 2;
  }
  const alpha = numberFlag(args, 'alpha', 1.0, 'weights');
  const size = numberFlag(args, 'size', 224, 'weights');
  const retries = numberFlag(args, 'retries', 4, 'weights');
  const sha256 = args.flags.get('sha256');
  if (sha256 !== undefined && (typeof sha256 !== 'string' || !/^[0-9a-fA-F]{64}$/.test(sha256))) {
    throw new Error('weights: --sha256 must be 64 hexadecimal digits');
  }
  try {
    validateKerasChoice(alpha, size);
  } catch (e) {
    throw new Error(`weights fetch: ${(e as Error).message}`);
  }
  const str = (name: string) => {
    const v = args.flags.get(name);
    return typeof v === 'string' ? v : undefined;
  };
  const quiet = args.flags.get('quiet') === true;
  const log = quiet ? undefined : (m: string) => process.stderr.write(`mnv2 weights: ${m}\n`);

  // Ctrl-C cancels cleanly: the .part stays for the next run.
  const ctl = new AbortController();
  const onSigint = () => ctl.abort();
  process.once('SIGINT', onSigint);
  try {
    const r = await fetchKerasWeights({
      alpha,
      size,
      includeTop: args.flags.get('no-top') !== true,
      cacheDir: str('cache-dir'),
      baseUrl: str('base-url'),
      sha256: typeof sha256 === 'string' ? sha256 : undefined,
      force: args.flags.get('force') === true,
      retries,
      signal: ctl.signal,
      progressStream: quiet ? undefined : process.stderr,
      log,
    });
    const w = r.weights;
    const how = r.source === 'download' ? `downloaded${r.resumedFrom ? ` (resumed at ${formatBytes(r.resumedFrom)})` : ''}` : r.source === 'keras' ? "found in Keras' cache" : 'cached';
    log?.(
      `${how}: ${r.fileName}, ${formatBytes(r.bytes)}, sha256 ${r.sha256}; alpha ${fmtAlpha(w.alpha)}, ${w.includeTop ? `${w.classes}-class top` : 'no top'}, ${w.weights.size} tensors${w.matchedBy === 'order' ? ' (legacy layer names, mapped by order)' : ''}`,
    );
    for (const n of w.notes) log?.(`note: ${n}`);
    console.log(r.path);
    return 0;
  } catch (e) {
    if (e instanceof FetchError && e.kind === 'aborted') {
      process.stderr.write(`\nmnv2 weights: ${e.message}\n`);
      return 130;
    }
    throw e;
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
}
