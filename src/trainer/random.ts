import { fmix32 } from '../core/hash';

/**
 * Small deterministic pseudo-random numbers for data order. `Math.random` cannot be seeded, and the
 * data order must be reproducible from a seed and a position for exact resume.
 */

/** Mixes two 32-bit integers into one well-spread 32-bit seed (murmur3's finaliser over a combination). */
export function mixSeed(a: number, b: number): number {
  return fmix32(Math.imul(a | 0, 0x9e3779b1) ^ Math.imul((b | 0) + 0x7f4a7c15, 0x85ebca6b));
}

/** mulberry32: a tiny 32-bit generator with a full 2^32 period; returns floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A Fisher–Yates permutation of 0..n-1 drawn from `random`. */
export function permutation(n: number, random: () => number): number[] {
  const out = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = out[i] as number;
    out[i] = out[j] as number;
    out[j] = t;
  }
  return out;
}
