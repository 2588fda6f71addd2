// f16 storage for any kernel (`--precision f16`): a binding named in `half` is declared as an array
// of f16 (f32 -> f16, vec2/vec4<f32> -> vec2/vec4<f16>) and every access to it in the kernel's WGSL
// is rewritten so the arithmetic stays f32:
//   load      x[i]            -> vec4<f32>(x[i])
//   store     y[i] = v;       -> y[i] = vec4<f16>(v);
//   compound  y[i] += v;      -> y[i] = vec4<f16>(vec4<f32>(y[i]) + (v));
// So activations are stored as f16 (half the bytes) and accumulated in f32, and a kernel needs no
// second copy of its WGSL. With no half binding the source is exactly the f32 one. Needs the device
// feature 'shader-f16' (`enable f16;` is emitted first).

/** The f16 storage type of an f32 binding type; throws for types that are not f32-based. */
export function halfType(kernel: string, binding: string, type: string): string {
  const t = type.replace(/\s+/g, '');
  if (t === 'f32') return 'f16';
  const m = /^vec([234])<f32>$/.exec(t);
  if (m) return `vec${m[1]}<f16>`;
  throw new Error(`${kernel}: binding '${binding}' is an array of ${type}; only f32 arrays can be stored as f16`);
}

const IDENT = /[A-Za-z0-9_.]/;

/** Index of the bracket closing the one at `open` (source[open] === '['). */
function closing(src: string, open: number): number {
  let depth = 0;
  for (let i = open; i < src.length; i++) {
    if (src[i] === '[') depth++;
    else if (src[i] === ']' && --depth === 0) return i;
  }
  throw new Error(`half: unbalanced '[' at ${open}`);
}

/** End of an assignment's right-hand side: the ';' at bracket/paren depth 0 from `from`. */
function statementEnd(src: string, from: number): number {
  let depth = 0;
  for (let i = from; i < src.length; i++) {
    const ch = src[i];
    if (ch === '(' || ch === '[' || ch === '{') depth++;
    else if (ch === ')' || ch === ']' || ch === '}') depth--;
    else if (ch === ';' && depth === 0) return i;
  }
  throw new Error(`half: assignment without ';' at ${from}`);
}

/**
 * Rewrites every access `name[...]` in `src` for f16 storage of a binding whose f32 element type is
 * `f32Type`: loads convert to f32, stores (plain and compound) convert the f32 value to f16.
 */
export function rewriteHalfAccess(src: string, name: string, f32Type: string, f16Type: string): string {
  let out = '';
  let at = 0;
  const re = new RegExp(`\\b${name}\\s*\\[`, 'g');
  for (;;) {
    re.lastIndex = at;
    const m = re.exec(src);
    if (!m) break;
    const start = m.index;
    if (start > 0 && IDENT.test(src[start - 1])) {
      out += src.slice(at, start + m[0].length);
      at = start + m[0].length;
      continue;
    }
    const open = start + m[0].length - 1;
    const close = closing(src, open);
    // the index may itself read a half binding (rare): rewrite inside it too
    const index = rewriteHalfAccess(src.slice(open + 1, close), name, f32Type, f16Type);
    const access = `${name}[${index}]`;
    out += src.slice(at, start);
    const rest = src.slice(close + 1);
    const assign = /^\s*([-+*/]?)=(?!=)/.exec(rest);
    if (assign) {
      const rhsFrom = close + 1 + assign[0].length;
      const end = statementEnd(src, rhsFrom);
      const rhs = rewriteHalfAccess(src.slice(rhsFrom, end), name, f32Type, f16Type).trim();
      const op = assign[1];
      out += op ? `${access} = ${f16Type}(${f32Type}(${access}) ${op} (${rhs}))` : `${access} = ${f16Type}(${rhs})`;
      at = end;
    } else {
      out += `${f32Type}(${access})`;
      at = close + 1;
    }
  }
  return out + src.slice(at);
}

/** Cache-key suffix of a set of half bindings ('' when none: f32 keys are unchanged). */
export const halfKey = (half: readonly string[] | undefined): string => (half && half.length ? `|f16:${[...half].sort().join(',')}` : '');
