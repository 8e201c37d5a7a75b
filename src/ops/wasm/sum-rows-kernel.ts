/**
 * tfjs kernel `GanpoSumRows` (wasm backend only): Σ over the rows of a 2-D float32 tensor, in place
 * on the backend's memory (./sum-rows-simd.ts).
 */
import { instanceFor, matrixKernel, registerWhenAvailable, type WasmBackendLike } from './backend';
import { type SumRowsSimdExports, sumRowsSimdModule } from './sum-rows-simd';

export const SUM_ROWS = 'GanpoSumRows';

const sumRowsExports = (b: WasmBackendLike): SumRowsSimdExports | null =>
  instanceFor<SumRowsSimdExports>(b, 'sumRows', sumRowsSimdModule);

const sumRowsKernel = matrixKernel(
  sumRowsExports,
  (_rows, cols) => [cols],
  (e, x, out, rows, cols) => e.sumRows(x, out, rows, cols),
);

/** True (and the kernel registered) when the active backend is wasm and the module instantiates. */
export function wasmSumRowsAvailable(): boolean {
  return registerWhenAvailable(sumRowsExports, { [SUM_ROWS]: sumRowsKernel });
}
