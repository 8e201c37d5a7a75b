/**
 * tfjs kernels `GanpoGelu` / `GanpoGeluGrad` (wasm backend only) running ./gelu-simd.ts in place.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  instanceFor,
  type KernelArgs,
  memoryOf,
  pointer,
  registerWhenAvailable,
  type WasmBackendLike,
} from './backend';
import { type GeluSimdExports, geluSimdModule } from './gelu-simd';
import { blocks, kernelPoolFor } from './kernel-pool';

const geluExports = (b: WasmBackendLike): GeluSimdExports | null =>
  instanceFor<GeluSimdExports>(b, 'gelu', geluSimdModule);

export const GELU_FORWARD = 'GanpoGelu';
export const GELU_BACKWARD = 'GanpoGeluGrad';

/**
 * Runs `run(n4)` on the full 4-float groups of `n` elements, then the remainder (< 4 elements) by
 * copying it through a 16-byte scratch per array (never touching bytes past a tensor's end).
 */
function inGroups(
  backend: WasmBackendLike,
  n: number,
  arrays: number[],
  outIndex: number,
  run: (ptrs: number[], n4: number) => void,
): void {
  const n4 = Math.floor(n / 4);
  if (n4 > 0) run(arrays, n4);
  const rest = n - 4 * n4;
  if (rest === 0) return;
  const scratch = backend.wasm._malloc(16 * arrays.length);
  try {
    const heap = new Float32Array((memoryOf(backend) as WebAssembly.Memory).buffer);
    const ptrs = arrays.map((_, i) => scratch + 16 * i);
    arrays.forEach((p, i) => {
      const dst = (ptrs[i] as number) / 4;
      heap.fill(0, dst, dst + 4);
      if (i !== outIndex) heap.set(heap.subarray(p / 4 + 4 * n4, p / 4 + n), dst);
    });
    run(ptrs, 1);
    const src = (ptrs[outIndex] as number) / 4;
    const out = arrays[outIndex] as number;
    heap.copyWithin(out / 4 + 4 * n4, src, src + rest);
  } finally {
    backend.wasm._free(scratch);
  }
}

/** Elementary operations per element (the erf polynomial and its products), for the split decision. */
const OPS_PER_ELEMENT = 32;

/**
 * Calls export `name` on `n4` groups of 4 floats at `ptrs` (arrays walked in step): on one thread,
 * or, with a kernel pool and enough elements, in consecutive ranges over its threads.
 */
function overGroups(b: WasmBackendLike, name: keyof GeluSimdExports, ptrs: number[], n4: number): void {
  const fn = (geluExports(b) as GeluSimdExports)[name] as (...args: number[]) => void;
  const pool = kernelPoolFor(memoryOf(b));
  if (!pool?.worthSplitting(OPS_PER_ELEMENT * 4 * n4, n4)) {
    fn(...ptrs, n4);
    return;
  }
  const calls = blocks(n4, pool.threads).map(([start, count]) => [...ptrs.map((p) => p + 16 * start), count]);
  pool.run('gelu', () => geluSimdModule(true), name, fn, calls);
}

function forwardKernel({ inputs, backend }: KernelArgs): tf.TensorInfo {
  const b = backend as WasmBackendLike;
  const x = inputs.x as tf.TensorInfo;
  const out = b.makeOutput(x.shape, 'float32');
  inGroups(b, tf.util.sizeFromShape(x.shape), [pointer(b, x), pointer(b, out)], 1, (ptrs, n4) =>
    overGroups(b, 'geluForward', ptrs, n4),
  );
  return out;
}

function backwardKernel({ inputs, backend }: KernelArgs): tf.TensorInfo {
  const b = backend as WasmBackendLike;
  const x = inputs.x as tf.TensorInfo;
  const dy = inputs.dy as tf.TensorInfo;
  const dx = b.makeOutput(x.shape, 'float32');
  inGroups(
    b,
    tf.util.sizeFromShape(x.shape),
    [pointer(b, x), pointer(b, dy), pointer(b, dx)],
    2,
    (ptrs, n4) => overGroups(b, 'geluBackward', ptrs, n4),
  );
  return dx;
}

/** True (and the kernels registered) when the active backend is wasm and the module instantiates. */
export function fusedGeluAvailable(): boolean {
  return registerWhenAvailable(geluExports, {
    [GELU_FORWARD]: forwardKernel,
    [GELU_BACKWARD]: backwardKernel,
  });
}
