// Tiny synthetic image datasets for the Keras API tests: two (or more) classes of 32x32 patterns
// that a frozen random or ImageNet base separates (class k = horizontal stripes of period k+2 on
// a class-specific tint, with seeded noise).
import { datasetFromImages, seededRandom, type FitImage, type ImageDataset } from '@mnv2/core';

export function patternImages(n: number, classes: number, seed = 1, size = 32): { images: FitImage[]; labels: number[] } {
  const rand = seededRandom(seed);
  const images: FitImage[] = [];
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const k = i % classes;
    const rgb = new Uint8Array(size * size * 3);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const on = Math.floor(y / (k + 2)) % 2 === 0;
        const o = (y * size + x) * 3;
        const noise = rand() * 40;
        rgb[o] = (on ? 200 : 40) + noise * (k === 0 ? 1 : 0.3);
        rgb[o + 1] = (on ? 60 + 60 * k : 30) + noise * 0.5;
        rgb[o + 2] = (on ? 40 : 180 - 40 * k) + noise * 0.2;
      }
    }
    images.push({ width: size, height: size, rgb });
    labels.push(k);
  }
  return { images, labels };
}

export function patternDataset(n: number, classes: number, opts: { seed?: number; batchSize?: number; size?: number } = {}): ImageDataset {
  const { images, labels } = patternImages(n, classes, opts.seed ?? 1, opts.size ?? 32);
  return datasetFromImages(images, labels, { batchSize: opts.batchSize ?? 8, classNames: Array.from({ length: classes }, (_, k) => `c${k}`) });
}
