// One declaration of a kernel's uniforms generates both the WGSL struct and the byte packer, so the
// two can never drift apart (the weakness of hand-matched uniform lists in tfjs/ORT).

export type UniformType = 'u32' | 'i32' | 'f32' | 'vec2u' | 'vec2i' | 'vec2f' | 'vec4u' | 'vec4i' | 'vec4f';
export type UniformSchema = Record<string, UniformType>;

type ValueOf<T extends UniformType> = T extends 'u32' | 'i32' | 'f32'
  ? number
  : T extends 'vec2u' | 'vec2i' | 'vec2f'
    ? readonly [number, number]
    : readonly [number, number, number, number];

export type UniformValues<S extends UniformSchema> = { [K in keyof S]: ValueOf<S[K]> };

const INFO: Record<UniformType, { n: number; align: number; kind: 'u' | 'i' | 'f'; wgsl: string }> = {
  u32: { n: 1, align: 4, kind: 'u', wgsl: 'u32' },
  i32: { n: 1, align: 4, kind: 'i', wgsl: 'i32' },
  f32: { n: 1, align: 4, kind: 'f', wgsl: 'f32' },
  vec2u: { n: 2, align: 8, kind: 'u', wgsl: 'vec2<u32>' },
  vec2i: { n: 2, align: 8, kind: 'i', wgsl: 'vec2<i32>' },
  vec2f: { n: 2, align: 8, kind: 'f', wgsl: 'vec2<f32>' },
  vec4u: { n: 4, align: 16, kind: 'u', wgsl: 'vec4<u32>' },
  vec4i: { n: 4, align: 16, kind: 'i', wgsl: 'vec4<i32>' },
  vec4f: { n: 4, align: 16, kind: 'f', wgsl: 'vec4<f32>' },
};

export interface UniformLayout {
  fields: { name: string; type: UniformType; offset: number }[];
  size: number; // bytes, multiple of 16
}

export function uniformLayout(schema: UniformSchema): UniformLayout {
  let offset = 0;
  const fields: UniformLayout['fields'] = [];
  for (const [name, type] of Object.entries(schema)) {
    const { n, align } = INFO[type];
    offset = Math.ceil(offset / align) * align;
    fields.push({ name, type, offset });
    offset += n * 4;
  }
  return { fields, size: Math.max(16, Math.ceil(offset / 16) * 16) };
}

export function uniformStructWgsl(schema: UniformSchema): string {
  const lines = Object.entries(schema).map(([name, t]) => `  ${name}: ${INFO[t].wgsl},`);
  if (lines.length === 0) lines.push('  _unused: u32,');
  return `struct Uniforms {\n${lines.join('\n')}\n}`;
}

/** Packs values by the schema's layout. Throws naming the kernel and field on a missing/bad value. */
export function packUniforms(kernel: string, layout: UniformLayout, values: Record<string, unknown>): ArrayBuffer {
  const buf = new ArrayBuffer(layout.size);
  const u32 = new Uint32Array(buf);
  const i32 = new Int32Array(buf);
  const f32 = new Float32Array(buf);
  for (const { name, type, offset } of layout.fields) {
    const { n, kind } = INFO[type];
    const v = values[name];
    const arr = n === 1 ? [v] : (v as ArrayLike<unknown>);
    if (v === undefined || (n > 1 && (!arr || (arr as ArrayLike<unknown>).length !== n))) {
      throw new Error(`${kernel}: uniform '${name}' must be ${n === 1 ? 'a number' : `${n} numbers`}, got ${String(v)}`);
    }
    for (let i = 0; i < n; i++) {
      const x = Number((arr as ArrayLike<unknown>)[i]);
      if (!Number.isFinite(x)) throw new Error(`${kernel}: uniform '${name}' has a non-finite value ${String(x)}`);
      const at = offset / 4 + i;
      if (kind === 'f') f32[at] = x;
      else if (kind === 'i') i32[at] = x;
      else {
        if (x < 0) throw new Error(`${kernel}: uniform '${name}' is unsigned but got ${x}`);
        u32[at] = x;
      }
    }
  }
  return buf;
}
