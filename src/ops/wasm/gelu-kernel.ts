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

function forwardKernel({ inputs, backend }: KernelArgs): tf.TensorInfo {
  const b = backend as WasmBackendLike;
  const x = inputs.x as tf.TensorInfo;
  const out = b.makeOutput(x.shape, 'float32');
  const k = geluExports(b) as GeluSimdExports;
  inGroups(b, tf.util.sizeFromShape(x.shape), [pointer(b, x), pointer(b, out)], 1, ([px, po], n4) =>
    k.geluForward(px as number, po as number, n4),
  );
  return out;
}

function backwardKernel({ inputs, backend }: KernelArgs): tf.TensorInfo {
  const b = backend as WasmBackendLike;
  const x = inputs.x as tf.TensorInfo;
  const dy = inputs.dy as tf.TensorInfo;
  const dx = b.makeOutput(x.shape, 'float32');
  const k = geluExports(b) as GeluSimdExports;
  inGroups(
    b,
    tf.util.sizeFromShape(x.shape),
    [pointer(b, x), pointer(b, dy), pointer(b, dx)],
    2,
    ([px, pd, po], n4) => k.geluBackward(px as number, pd as number, po as number, n4),
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
