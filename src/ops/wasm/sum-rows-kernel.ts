/**
 * tfjs kernel `GanpoSumRows` (wasm backend only): Σ over the rows of a 2-D float32 tensor, in place
 * on the backend's memory (./sum-rows-simd.ts).
 */
import type * as tf from '@tensorflow/tfjs-core';
import {
  instanceFor,
  type KernelArgs,
  pointer,
  registerWhenAvailable,
  type WasmBackendLike,
} from './backend';
import { type SumRowsSimdExports, sumRowsSimdModule } from './sum-rows-simd';

export const SUM_ROWS = 'GanpoSumRows';

const sumRowsExports = (b: WasmBackendLike): SumRowsSimdExports | null =>
  instanceFor<SumRowsSimdExports>(b, 'sumRows', sumRowsSimdModule);

function sumRowsKernel({ inputs, backend }: KernelArgs): tf.TensorInfo {
  const b = backend as WasmBackendLike;
  const x = inputs.x as tf.TensorInfo;
  const [n, d] = x.shape as [number, number];
  const out = b.makeOutput([d], 'float32');
  (sumRowsExports(b) as SumRowsSimdExports).sumRows(pointer(b, x), pointer(b, out), n, d);
  return out;
}

/** True (and the kernel registered) when the active backend is wasm and the module instantiates. */
export function wasmSumRowsAvailable(): boolean {
  return registerWhenAvailable(sumRowsExports, { [SUM_ROWS]: sumRowsKernel });
}
