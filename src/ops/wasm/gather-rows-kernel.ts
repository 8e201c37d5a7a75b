/**
 * tfjs kernel `GanpoGatherRows` (wasm backend only): rows of a 2-D float32 table picked by int32
 * ids of any shape, [V, D] × ids [...] → [..., D], in place on the backend's memory
 * (./gather-rows-simd.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  instanceFor,
  type KernelArgs,
  pointer,
  registerWhenAvailable,
  type WasmBackendLike,
} from './backend';
import { type GatherRowsSimdExports, gatherRowsSimdModule } from './gather-rows-simd';

export const GATHER_ROWS = 'GanpoGatherRows';

const exportsOf = (b: WasmBackendLike): GatherRowsSimdExports | null =>
  instanceFor<GatherRowsSimdExports>(b, 'gatherRows', gatherRowsSimdModule);

function gatherRowsKernel({ inputs, backend }: KernelArgs): tf.TensorInfo {
  const b = backend as WasmBackendLike;
  const table = inputs.table as tf.TensorInfo;
  const ids = inputs.ids as tf.TensorInfo;
  const [v, d] = table.shape as [number, number];
  const n = tf.util.sizeFromShape(ids.shape);
  const out = b.makeOutput([...ids.shape, d], 'float32');
  if (n > 0 && d > 0 && v > 0) {
    (exportsOf(b) as GatherRowsSimdExports).gatherRows(
      pointer(b, table),
      pointer(b, ids),
      pointer(b, out),
      n,
      d,
      v,
    );
  }
  return out;
}

/** True (and the kernel registered) when the active backend is wasm and the module instantiates. */
export function wasmGatherRowsAvailable(): boolean {
  return registerWhenAvailable(exportsOf, { [GATHER_ROWS]: gatherRowsKernel });
}
