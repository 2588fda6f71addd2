// f64 reference for ReLU6. The gradient is 1 on the open interval (0, 6), 0 elsewhere.
export function relu6Ref(x: Float64Array): Float64Array {
  return x.map((v) => Math.min(Math.max(v, 0), 6));
}
export function relu6BackwardRef(y: Float64Array, dy: Float64Array): Float64Array {
  return dy.map((g, i) => (y[i] > 0 && y[i] < 6 ? g : 0));
}
