/**
 * tfjs kernel `GanpoDropoutMask` (wasm backend only): the dropout mask of a counter-based stream
 * written straight into a new tensor (./dropout-mask-simd.ts), instead of drawing it in JS and
 * uploading it.
 */
import * as tf from '@tensorflow/tfjs-core';
import { fmix32, HIGH_WORD_SALT } from '../../core/hash';
import { instanceFor, memoryOf, pointer, registerWhenAvailable, type WasmBackendLike } from './backend';
import { type DropoutMaskSimdExports, dropoutMaskSimdModule } from './dropout-mask-simd';

export const DROPOUT_MASK = 'GanpoDropoutMask';
const TWO_32 = 4294967296;

/** What the kernel draws: draws `counter` … `counter + size − 1` of stream `seed`. */
interface MaskAttrs {
  shape: number[];
  rate: number;
  seed: number;
  counter: number;
}

const exportsOf = (b: WasmBackendLike): DropoutMaskSimdExports | null =>
  instanceFor<DropoutMaskSimdExports>(b, 'dropoutMask', dropoutMaskSimdModule);

function maskKernel({ backend, attrs }: { backend: unknown; attrs: unknown }): tf.TensorInfo {
  const b = backend as WasmBackendLike;
  const { shape, rate, seed, counter } = attrs as unknown as MaskAttrs;
  const out = b.makeOutput(shape, 'float32');
  const n = tf.util.sizeFromShape(shape);
  const base = pointer(b, out);
  const heap = new Float32Array((memoryOf(b) as WebAssembly.Memory).buffer, base, n);
  const threshold = Math.ceil(rate * TWO_32); // u/2³² ≥ rate ⇔ u ≥ ⌈rate·2³²⌉ for integer u
  if (threshold >= TWO_32) {
    heap.fill(0);
    return out;
  }
  const keepScale = 1 / (1 - rate);
  const k = exportsOf(b) as DropoutMaskSimdExports;
  // One run per 2³²-block of counters (the high word's hash is fixed within one).
  for (let done = 0; done < n; ) {
    const c = counter + done;
    const hi = Math.floor(c / TWO_32);
    const lo0 = c - hi * TWO_32;
    const len = Math.min(n - done, TWO_32 - lo0);
    const h = fmix32(hi + HIGH_WORD_SALT);
    const n4 = Math.floor(len / 4);
    if (n4 > 0) k.dropoutMask(base + 4 * done, n4, lo0 | 0, h | 0, seed | 0, threshold | 0, keepScale);
    for (let j = 4 * n4; j < len; j++) {
      const u = fmix32(seed ^ fmix32((lo0 + j) ^ h));
      heap[done + j] = u >= threshold ? keepScale : 0;
    }
    done += len;
  }
  return out;
}

/** True (and the kernel registered) when the active backend is wasm and the module instantiates. */
export function wasmDropoutMaskAvailable(): boolean {
  return registerWhenAvailable(exportsOf, { [DROPOUT_MASK]: maskKernel });
}

/** The mask of draws `counter` … of stream `seed` (call only after {@link wasmDropoutMaskAvailable}). */
export function wasmCounterMask(shape: number[], rate: number, seed: number, counter: number): tf.Tensor {
  return tf
    .engine()
    .runKernel(DROPOUT_MASK, {}, { shape, rate, seed, counter } as unknown as tf.NamedAttrMap) as tf.Tensor;
}
