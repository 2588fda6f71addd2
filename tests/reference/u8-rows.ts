// f64 references of the uint8 row kernels (@mnv2/kernels image/u8-to-f32.ts): rows of rowLen values
// packed 4 bytes per u32 word, little-endian, each row padded to whole words with zero bytes.

/** Round half to even (WGSL `round`), then clamp to [0, 255]. */
export function quantizeRef(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  const r = d > 0.5 ? f + 1 : d < 0.5 ? f : f % 2 === 0 ? f : f + 1;
  return Math.min(255, Math.max(0, r));
}

/** Packed words of `rows` rows of f32 values (row-major, rowLen each). */
export function quantizeRowsRef(values: ArrayLike<number>, rows: number, rowLen: number): Uint32Array {
  const wpr = Math.ceil(rowLen / 4);
  const bytes = new Uint8Array(rows * wpr * 4);
  for (let r = 0; r < rows; r++) for (let k = 0; k < rowLen; k++) bytes[r * wpr * 4 + k] = quantizeRef(values[r * rowLen + k]);
  return new Uint32Array(bytes.buffer);
}

/** f32 values of packed rows, y = (v / div1[c] − sub[c]) / div2[c] with c = byte index mod 3. */
export function rowsToF32Ref(words: Uint32Array, rows: number, rowLen: number, pre: { div1: number[]; sub: number[]; div2: number[] }): Float64Array {
  const wpr = Math.ceil(rowLen / 4);
  const bytes = new Uint8Array(words.buffer, words.byteOffset, words.byteLength);
  const out = new Float64Array(rows * rowLen);
  for (let r = 0; r < rows; r++)
    for (let k = 0; k < rowLen; k++) {
      const c = k % 3;
      out[r * rowLen + k] = (bytes[r * wpr * 4 + k] / pre.div1[c] - pre.sub[c]) / pre.div2[c];
    }
  return out;
}
