// Random augmentation on the GPU, one fused pass over f32 NHWC images: Keras RandomFlip('horizontal')
// then RandomRotation(factor, fill_mode='reflect', interpolation='bilinear'), with per-image draws from
// a counter-based hash of (seed, index0 + image) so a run is reproducible (see @mnv2/kernels
// image/augment.ts for the exact transform). Run it after `resizeImages` (bilinear weights sum to 1
// and reflect fills with image values, so it commutes with the per-channel input scaling).
import { augmentImages, augmentDraws, type AugmentConfig } from '@mnv2/kernels';
import type { Engine } from '../../gpu/engine.js';
import type { Tensor } from '../../gpu/tensor.js';
import { ShapeError, assertShape } from '../../gpu/errors.js';
import { paged } from '../paging.js';
import { run } from '../run.js';

export interface AugmentOptions {
  /** Random horizontal flip with probability 0.5 (Keras RandomFlip('horizontal')). */
  flip?: boolean;
  /** Keras RandomRotation factor (fraction of 2π): f → angle ~ U[−f·2π, f·2π]; [lo, hi] → U[lo·2π, hi·2π]. Radians, counter-clockwise positive. */
  rotation?: number | readonly [number, number];
  /** Seed of the per-image draws (integer; taken mod 2^32). Use a new seed per batch/epoch. */
  seed: number;
  /** Index of the first image in the hash counter (e.g. the batch's offset in the epoch), default 0. */
  index0?: number;
}

function angleRange(rotation: AugmentOptions['rotation']): [number, number] {
  if (rotation === undefined) return [0, 0];
  const [lo, hi] = typeof rotation === 'number' ? [-Math.abs(rotation), Math.abs(rotation)] : rotation;
  if (!Number.isFinite(lo) || !Number.isFinite(hi) || lo > hi) throw new Error(`augment: rotation must be a number or [lo, hi] with lo <= hi, got ${String(rotation)}`);
  return [lo * 2 * Math.PI, hi * 2 * Math.PI];
}

function checkImages(op: string, x: Tensor): [number, number, number, number] {
  assertShape(op, 'x', x.shape, 4);
  if (x.dtype !== 'f32') throw new ShapeError(op, 'x must be f32 NHWC', { dtype: x.dtype });
  return x.shape as unknown as [number, number, number, number];
}

/** One pass over pages of the batch (hash draws continue across pages through index0). */
function dispatchAugment(e: Engine, x: Tensor, cfg: AugmentConfig, params: Tensor | null, extra: { seed: number; index0: number; angleLo: number; angleHi: number }): Tensor {
  const ins = params ? [x, params] : [x];
  return paged(e, 'augment', ins, [{ batch: x.shape }], ([xp, pp], pg) =>
    // (hash mode: params is unused; x is bound there, read-only aliasing is allowed)
    [augmentPage(e, xp, cfg, pp ?? xp, { ...extra, index0: extra.index0 + pg.start })],
  )[0];
}

function augmentPage(e: Engine, x: Tensor, cfg: AugmentConfig, params: Tensor, extra: { seed: number; index0: number; angleLo: number; angleHi: number }): Tensor {
  const [N, H, W, C] = x.shape;
  const y = e.alloc(x.shape);
  run(e, augmentImages, cfg, { N, H, W, C, ...extra }, { x, y, params });
  return y;
}

/** Randomly flipped and/or rotated copy of x [N, H, W, C] (a plain copy when neither is enabled). */
export function augment(e: Engine, x: Tensor, opts: AugmentOptions): Tensor {
  checkImages('augment', x);
  if (!Number.isInteger(opts.seed)) throw new Error(`augment: seed must be an integer, got ${String(opts.seed)}`);
  const index0 = opts.index0 ?? 0;
  if (!Number.isInteger(index0) || index0 < 0) throw new Error(`augment: index0 must be a non-negative integer, got ${index0}`);
  const [angleLo, angleHi] = angleRange(opts.rotation);
  const flip = opts.flip ?? false;
  const rotate = angleLo !== 0 || angleHi !== 0;
  if (!flip && !rotate) {
    const y = e.alloc(x.shape);
    e.copy(x, y, x.bytes);
    return y;
  }
  return dispatchAugment(e, x, { mode: 'hash', flip, rotate }, null, { seed: opts.seed >>> 0, index0: index0 >>> 0, angleLo, angleHi });
}

/** The per-image draws `augment` makes with these options for n images (host mirror of the GPU hash). */
export function augmentDrawsFor(n: number, opts: AugmentOptions): { angles: Float32Array; flips: boolean[] } {
  const [angleLo, angleHi] = angleRange(opts.rotation);
  return augmentDraws(opts.seed >>> 0, n, { flip: opts.flip ?? false, rotate: angleLo !== 0 || angleHi !== 0, angleLo, angleHi, index0: opts.index0 ?? 0 });
}

/** Uploads explicit per-image transforms as the [N, 2] params of `augmentWithParams` (caller owns it). */
export function uploadAugmentParams(e: Engine, p: { angles?: ArrayLike<number>; flips?: ArrayLike<boolean | number> }, n: number): Tensor {
  const data = new Float32Array(2 * n);
  for (let b = 0; b < n; b++) {
    data[2 * b] = p.angles?.[b] ?? 0;
    data[2 * b + 1] = p.flips?.[b] ? 1 : 0;
  }
  return e.upload(data, [n, 2], 'f32');
}

/**
 * Flip/rotate with explicit per-image transforms: params [N, 2] f32 = (angle in radians, flip 0/1).
 * Same kernel body as `augment` (for tests, and for draws made on the host).
 */
export function augmentWithParams(e: Engine, x: Tensor, params: Tensor): Tensor {
  const [N] = checkImages('augmentWithParams', x);
  if (params.size !== 2 * N) throw new ShapeError('augmentWithParams', 'params must be [N, 2] (angle, flip)', { x: x.shape, params: params.shape });
  return dispatchAugment(e, x, { mode: 'explicit', flip: true, rotate: true }, params.reshape([N, 2]), { seed: 0, index0: 0, angleLo: 0, angleHi: 0 });
}
