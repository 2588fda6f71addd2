// Optimizer base: lazily created per-parameter slot tensors ('<key>/<slot>'), the step counter,
// learning rate and (decoupled) weight decay shared by SGD, Adam and RMSprop. Each `step` records
// one dispatch per parameter tensor that updates the parameter and its slots in place; nothing is
// submitted or read back (ops never sync). Semantics follow Keras 3 optimizers (see each file).
import type { Engine } from '../../gpu/engine.js';
import { Tensor } from '../../gpu/tensor.js';
import { ShapeError } from '../../gpu/errors.js';

export interface ParamGrad {
  param: Tensor;
  grad: Tensor;
  /** Stable name of the parameter (e.g. the Keras weight path); slots are stored under '<key>/<slot>'. */
  key: string;
  /** Apply the optimizer's weight decay to this parameter (default true; Keras `exclude_from_weight_decay`). */
  weightDecay?: boolean;
}

export type OptimizerConfig = Record<string, number | boolean | string>;

export interface Optimizer {
  readonly name: string;
  /** Hyper-parameters under their Keras `get_config()` names (read-only snapshot). */
  readonly config: OptimizerConfig;
  /** Settable (e.g. by a schedule or ReduceLROnPlateau); takes effect at the next step. */
  learningRate: number;
  /** Completed steps (Keras `iterations`); the next step uses t = iterations + 1. Settable for resume. */
  iterations: number;
  /** Updates every parameter in place from its gradient (one dispatch each), then iterations += 1. */
  step(e: Engine, params: readonly ParamGrad[]): void;
  /** Slot tensors by '<key>/<slot>' (owned by the optimizer; copy or read them, don't dispose). */
  state(): Record<string, Tensor>;
  /**
   * Restores slots (e.g. from a checkpoint): each '<key>/<slot>' value is copied into an optimizer-owned
   * tensor (host data uploaded, tensors copied on the GPU). `iterations` restores the step counter.
   * Unknown slot names throw; sizes are checked against the parameter at the next step.
   */
  loadState(e: Engine, slots: Record<string, Tensor | Float32Array>, iterations?: number): void;
  /** Releases all slot tensors (the optimizer starts fresh afterwards). */
  dispose(): void;
}


/** A tensor that outlives tidy scopes (slots persist across steps). Contents uninitialised. */
function persistent(e: Engine, shape: readonly number[], label: string): Tensor {
  return e.allocPersistent(shape, 'f32', label);
}

export function checkFinite(op: string, name: string, v: number, min = -Infinity, max = Infinity): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
    throw new Error(`${op}: ${name} must be a finite number in [${min}, ${max}], got ${String(v)}`);
  }
  return v;
}

/** Per-parameter context handed to an optimizer's update. */
export interface UpdateCtx {
  e: Engine;
  p: ParamGrad;
  /** The slot tensors of this parameter, by slot name. */
  slots: Record<string, Tensor>;
  /** 1 when the slots were created for this update (the kernel treats them as zeros). */
  init: number;
  /** t = iterations + 1 (1-based step number). */
  t: number;
  /** weight_decay * learning_rate for this parameter (0 when decay is off or excluded). */
  decay: number;
}

export abstract class BaseOptimizer implements Optimizer {
  iterations = 0;
  private slotTensors = new Map<string, Record<string, Tensor>>();
  private _learningRate: number;

  protected constructor(
    readonly name: string,
    learningRate: number,
    protected readonly weightDecay: number,
  ) {
    this._learningRate = checkFinite(name, 'learningRate', learningRate, 0);
    checkFinite(name, 'weightDecay', weightDecay, 0);
  }

  get learningRate(): number {
    return this._learningRate;
  }
  set learningRate(v: number) {
    this._learningRate = checkFinite(this.name, 'learningRate', v, 0);
  }

  /** Slot names for the current hyper-parameters (e.g. SGD has none without momentum). */
  protected abstract slotNames(): string[];
  protected abstract hyper(): OptimizerConfig;
  protected abstract update(ctx: UpdateCtx): void;

  get config(): OptimizerConfig {
    return { name: this.name, learning_rate: this._learningRate, weight_decay: this.weightDecay, ...this.hyper() };
  }

  step(e: Engine, params: readonly ParamGrad[]): void {
    const seen = new Set<string>();
    const t = this.iterations + 1;
    const ctxs: UpdateCtx[] = [];
    for (const p of params) {
      if (seen.has(p.key)) throw new Error(`${this.name}.step: parameter key '${p.key}' appears twice`);
      seen.add(p.key);
      if (p.param.size !== p.grad.size) {
        throw new ShapeError(`${this.name}.step`, `gradient of '${p.key}' must match its parameter`, { param: p.param.shape, grad: p.grad.shape });
      }
      if (p.param.dtype !== 'f32' || p.grad.dtype !== 'f32') throw new Error(`${this.name}.step: '${p.key}' param and grad must be f32`);
      const { slots, init } = this.slotsFor(e, p);
      const decay = p.weightDecay === false ? 0 : this.weightDecay * this._learningRate;
      ctxs.push({ e, p, slots, init, t, decay });
    }
    this.updateAll(ctxs);
    this.iterations = t;
  }

  /** Records the updates of one step; an optimizer may group parameters into fewer dispatches. */
  protected updateAll(ctxs: UpdateCtx[]): void {
    for (const c of ctxs) this.update(c);
  }

  private slotsFor(e: Engine, p: ParamGrad): { slots: Record<string, Tensor>; init: number } {
    const names = this.slotNames();
    let slots = this.slotTensors.get(p.key);
    let init = 0;
    if (!slots) {
      slots = {};
      this.slotTensors.set(p.key, slots);
    }
    const missing = names.filter((s) => !slots![s]);
    if (missing.length === names.length && names.length > 0) init = 1;
    else if (missing.length > 0) {
      throw new Error(`${this.name}.step: '${p.key}' has only some of its slots (${names.join(', ')}) loaded; missing ${missing.join(', ')}`);
    }
    for (const s of missing) slots[s] = persistent(e, p.param.shape, `${this.name}:${p.key}/${s}`);
    for (const s of names) {
      if (slots[s].size !== p.param.size) {
        throw new ShapeError(`${this.name}.step`, `slot '${p.key}/${s}' does not match its parameter`, { slot: slots[s].shape, param: p.param.shape });
      }
    }
    return { slots, init };
  }

  state(): Record<string, Tensor> {
    const out: Record<string, Tensor> = {};
    for (const [key, slots] of this.slotTensors) for (const [s, t] of Object.entries(slots)) out[`${key}/${s}`] = t;
    return out;
  }

  loadState(e: Engine, slots: Record<string, Tensor | Float32Array>, iterations?: number): void {
    const names = this.slotNames();
    for (const [path, v] of Object.entries(slots)) {
      const cut = path.lastIndexOf('/');
      const key = path.slice(0, cut);
      const s = path.slice(cut + 1);
      if (cut <= 0 || !names.includes(s)) {
        throw new Error(`${this.name}.loadState: '${path}' is not '<key>/<slot>' with slot in [${names.join(', ')}]`);
      }
      const n = v instanceof Tensor ? v.size : v.length;
      let own = this.slotTensors.get(key);
      if (!own) {
        own = {};
        this.slotTensors.set(key, own);
      }
      let dst = own[s];
      if (!dst || dst.size !== n) {
        dst?.dispose();
        dst = persistent(e, v instanceof Tensor ? v.shape : [n], `${this.name}:${path}`);
        own[s] = dst;
      }
      if (v instanceof Tensor) e.copy(v, dst, n * 4);
      else e.write(dst, v);
    }
    if (iterations !== undefined) {
      if (!Number.isInteger(iterations) || iterations < 0) throw new Error(`${this.name}.loadState: iterations must be a non-negative integer`);
      this.iterations = iterations;
    }
  }

  dispose(): void {
    for (const slots of this.slotTensors.values()) for (const t of Object.values(slots)) t.dispose();
    this.slotTensors.clear();
  }
}
