// A kernel is data: its bindings, uniforms, workgroup size and a WGSL body generator. Core turns
// a spec into a pipeline (cached per device by name + config key) and dispatches it. Kernels never
// touch a device, so this package is platform-neutral and testable without one.
import { type UniformSchema, type UniformLayout, type UniformValues, uniformLayout, uniformStructWgsl } from './uniforms.js';
import { halfKey, halfType, rewriteHalfAccess } from './half.js';

export type Access = 'read' | 'read_write';
export interface BindingDecl {
  access: Access;
  /** WGSL element type of the storage array, default f32 (e.g. 'vec4<f32>', 'u32'); may depend on the config. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  type?: string | ((cfg: any) => string);
}
export type BindingSchema = Record<string, Access | BindingDecl>;

/** What one dispatch needs besides its buffers: the workgroup grid and the uniform values. */
export interface DispatchPlan<U extends UniformSchema> {
  grid: [number, number, number];
  uniforms: UniformValues<U>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export interface KernelDef<U extends UniformSchema, B extends BindingSchema, C, S = any> {
  /** Kernel name = file stem; pipeline label and cache-key prefix. */
  name: string;
  uniforms: U;
  /** Storage bindings in binding order (after the uniform buffer at binding 0). */
  bindings: B;
  /** Workgroup size; may depend on the config. */
  workgroupSize: (cfg: C) => [number, number, number];
  /** WGSL: everything after the generated header (struct Uniforms, `u`, storage bindings). */
  body: (cfg: C) => string;
  /** Cache key of a config; shapes never belong in it (they travel as uniforms). */
  key?: (cfg: C) => string;
  /** Extra `enable` directives etc., emitted first. */
  preamble?: (cfg: C) => string;
  /**
   * The kernel's dispatch: workgroup grid and uniform values from its config and the shapes the op
   * passes (element counts, dims). Ops call it (core `run(e, kernel, cfg, shapes, buffers)`) rather
   * than computing grids and uniforms themselves, so a kernel's meaning stays in one file.
   */
  dispatch: (cfg: C, shapes: S) => DispatchPlan<U>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export interface Kernel<U extends UniformSchema = UniformSchema, B extends BindingSchema = BindingSchema, C = unknown, S = any>
  extends KernelDef<U, B, C, S> {
  layout: UniformLayout;
  bindingNames: (keyof B & string)[];
  /** Cache key of a config and the bindings stored as f16 (see half.ts; none: the f32 key). */
  cacheKey: (cfg: C, half?: readonly string[]) => string;
  /**
   * Full WGSL source for a config. `half` names bindings stored as f16 (activations at
   * `--precision f16`): declared as f16 arrays, loaded into f32 and stored back as f16 (half.ts).
   */
  source: (cfg: C, half?: readonly string[]) => string;
}

function decl(b: Access | BindingDecl, cfg?: unknown): { access: Access; type: string } {
  if (typeof b === 'string') return { access: b, type: 'f32' };
  const t = typeof b.type === 'function' ? b.type(cfg) : (b.type ?? 'f32');
  return { access: b.access, type: t };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function defineKernel<U extends UniformSchema, B extends BindingSchema, C = Record<string, never>, S = any>(
  def: KernelDef<U, B, C, S>,
): Kernel<U, B, C, S> {
  const layout = uniformLayout(def.uniforms);
  const bindingNames = Object.keys(def.bindings) as (keyof B & string)[];
  const header = (cfg: C, half: readonly string[]) => {
    const [x, y, z] = def.workgroupSize(cfg);
    const lines = [
      ...(half.length ? ['enable f16;'] : []),
      def.preamble?.(cfg) ?? '',
      uniformStructWgsl(def.uniforms),
      '@group(0) @binding(0) var<uniform> u: Uniforms;',
      ...bindingNames.map((n, i) => {
        const d = decl(def.bindings[n], cfg);
        const type = half.includes(n) ? halfType(def.name, n, d.type) : d.type;
        return `@group(0) @binding(${i + 1}) var<storage, ${d.access}> ${n}: array<${type}>;`;
      }),
      `const WG_X: u32 = ${x}u;\nconst WG_Y: u32 = ${y}u;\nconst WG_Z: u32 = ${z}u;`,
    ];
    return lines.join('\n');
  };
  return {
    ...def,
    layout,
    bindingNames,
    cacheKey: (cfg: C, half?: readonly string[]) => `${def.name}|${def.key ? def.key(cfg) : JSON.stringify(cfg ?? {})}${halfKey(half)}`,
    source: (cfg: C, half: readonly string[] = []) => {
      for (const n of half) if (!bindingNames.includes(n as keyof B & string)) throw new Error(`${def.name}: no binding '${n}' to store as f16`);
      let body = def.body(cfg);
      for (const n of half) {
        const t = decl(def.bindings[n as keyof B & string], cfg).type;
        body = rewriteHalfAccess(body, n, t.replace(/\s+/g, ''), halfType(def.name, n, t));
      }
      return `${header(cfg, half)}\n${body}`;
    },
  };
}

/** True for the kernel objects `defineKernel` makes (the registry test walks the package's exports with it). */
export function isKernel(x: unknown): x is Kernel {
  return typeof x === 'object' && x !== null && 'bindingNames' in x && 'source' in x && 'layout' in x;
}

export function bindingAccess(k: Kernel, name: string): Access {
  const b = k.bindings[name];
  return typeof b === 'string' ? b : b.access;
}
