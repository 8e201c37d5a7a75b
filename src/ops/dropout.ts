import * as tf from '@tensorflow/tfjs-core';
import { fmix32, HIGH_WORD_SALT } from '../core/hash';
import { kernelFlags } from './kernel-flags';
import { wasmCounterMask, wasmDropoutMaskAvailable } from './wasm/dropout-mask-kernel';

/** Uniform numbers in [0, 1) for dropout masks. */
export type UniformSource = () => number;

// Looked up at each draw, so a `Math.random` replaced after import (a seeded test) is the one used.
let source: UniformSource = () => Math.random();

/**
 * Runs `fn` with dropout masks drawn from `uniform` instead of `Math.random` (restored afterwards,
 * even when `fn` throws). A discriminator passes its own counter-based stream, so that its dropout is
 * reproducible from a saved state.
 */
export function withUniformSource<T>(uniform: UniformSource, fn: () => T): T {
  const previous = source;
  source = uniform;
  try {
    return fn();
  } finally {
    source = previous;
  }
}

/**
 * Inverted-dropout mask: each entry is 1/(1 − rate) with probability 1 − rate, else 0 (PyTorch's
 * `nn.Dropout` scaling). Drawn in JS and uploaded as one tensor: tfjs's `tf.dropout` draws with a
 * JS generator too, then spends four more kernels (add, floor, div, mul) turning it into a mask,
 * which costs more than the attention product it masks at T = 128.
 *
 * @param shape - mask shape.
 * @param rate - drop probability in [0, 1).
 * @returns a float32 mask (caller disposes). Drawn from `Math.random`, or from the source set by
 *   {@link withUniformSource}.
 */
export function dropoutMask(shape: number[], rate: number): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const stream = streams.get(source);
  if (stream && kernelFlags.wasmDropoutMask && wasmDropoutMaskAvailable()) {
    // The same draws, hashed in WebAssembly SIMD straight into the tensor (./wasm/dropout-mask-simd.ts).
    const mask = wasmCounterMask(shape, rate, stream.seed, stream.counter);
    stream.counter += n;
    return mask;
  }
  const keepScale = 1 / (1 - rate);
  const values = new Float32Array(n);
  const uniform = source;
  for (let i = 0; i < n; i++) values[i] = uniform() >= rate ? keepScale : 0;
  return tf.tensor(values, shape, 'float32');
}

/** The stream behind each `CounterStream.next`, for the wasm fast path of {@link dropoutMask}. */
const streams = new WeakMap<UniformSource, CounterStream>();

/**
 * A counter-based stream of uniform numbers: draw i is a hash of (seed, i), so the stream's whole
 * state is two integers that a checkpoint can hold, and a resumed run draws exactly what an
 * uninterrupted one would.
 */
export class CounterStream {
  /** Creates the stream at draw `counter` of `seed` (both non-negative integers). */
  constructor(
    public seed: number,
    public counter = 0,
  ) {
    streams.set(this.next, this);
  }

  /** The next uniform number in [0, 1). */
  readonly next: UniformSource = () => {
    const i = this.counter++;
    const lo = i >>> 0;
    const hi = Math.floor(i / 4294967296) >>> 0;
    return fmix32(this.seed ^ fmix32(lo ^ fmix32(hi + HIGH_WORD_SALT))) / 4294967296;
  };
}

/**
 * Inverted dropout x·mask (see {@link dropoutMask}); identity when `rate` is 0. Differentiable in x
 * (the mask is a constant): a custom gradient dx = dy·mask that saves only the mask, where tfjs's
 * Multiply gradient saves both operands and recasts and reshapes the mask on every backward pass
 * (the same float products, ~4 fewer kernels per dropout in a gradient pass).
 */
export function dropout<T extends tf.Tensor>(x: T, rate: number): T {
  if (rate <= 0) return x;
  const mask = dropoutMask(x.shape, rate);
  return tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [input, save] = args as [tf.Tensor, tf.GradSaveFunc];
    save([mask]);
    return {
      value: tf.mul(input, mask),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.mul(dy, saved[0] as tf.Tensor),
    };
  })(x) as T;
}
