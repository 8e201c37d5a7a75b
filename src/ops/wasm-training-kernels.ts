import * as tf from '@tensorflow/tfjs-core';
import { GanpoError } from '../core/errors';

/**
 * The two methods of tfjs-backend-wasm's `BackendWasm` the kernels below use. Typed structurally so
 * that this module never imports the optional wasm peer: the kernels only run when tfjs dispatches
 * to the `'wasm'` backend, which then exists.
 */
interface WasmHeapBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}

function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/**
 * out[ids[r], :] += x[r, :] for every row r whose id lies in [0, numSegments); other rows are
 * dropped (as tfjs's cpu backend does, and TensorFlow does for negative ids). `out` must hold
 * numSegments·inner zeros. One pass over x: O(rows·inner), independent of numSegments.
 *
 * @param out - [numSegments, inner], accumulated in place.
 * @param x - [rows, inner], row-major.
 * @param ids - [rows] segment ids (integers).
 */
export function segmentSumInto(
  out: Float32Array | Int32Array,
  x: Float32Array | Int32Array,
  ids: ArrayLike<number>,
  rows: number,
  inner: number,
  numSegments: number,
): void {
  for (let r = 0; r < rows; r++) {
    const s = ids[r] as number;
    if (!(s >= 0 && s < numSegments)) continue;
    const dst = s * inner;
    const src = r * inner;
    for (let j = 0; j < inner; j++) out[dst + j] = (out[dst + j] as number) + (x[src + j] as number);
  }
}

/**
 * `UnsortedSegmentSum` for the wasm backend, in JavaScript over the wasm heap:
 *
 *     out[s, ...] = Σ_{r : segmentIds[r] = s} x[r, ...],   out: [numSegments, ...x.shape[k:]]
 *
 * where k = rank(segmentIds) and segmentIds.shape = x.shape[:k]. This is the gradient of
 * `tf.gather` (hence of `tf.layers.embedding`): x = dy of the gathered rows, ids = token ids,
 * numSegments = vocabulary size. Cost O(N·D + numSegments·D) for N ids of width D — tfjs's cpu kernel
 * loops over segments instead (O(numSegments·N·D)).
 */
function unsortedSegmentSumWasm(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}): tf.TensorInfo {
  const where = 'UnsortedSegmentSum (wasm, ganpo)';
  const backend = args.backend as WasmHeapBackend;
  const x = args.inputs.x as tf.TensorInfo;
  const segmentIds = args.inputs.segmentIds as tf.TensorInfo;
  const numSegments = (args.attrs as { numSegments: number }).numSegments;
  if (x.dtype !== 'float32' && x.dtype !== 'int32') {
    throw new GanpoError('INVALID_DTYPE', `${where}: 'x' expected float32 or int32, received ${x.dtype}`, {
      argument: 'x',
      expected: 'float32 or int32',
      received: x.dtype,
    });
  }
  const k = segmentIds.shape.length;
  if (k > x.shape.length || segmentIds.shape.some((d, i) => d !== x.shape[i])) {
    const expected = `a prefix of x's shape [${x.shape.join(',')}]`;
    const received = `[${segmentIds.shape.join(',')}]`;
    throw new GanpoError(
      'SHAPE_MISMATCH',
      `${where}: 'segmentIds' expected ${expected}, received ${received}`,
      { argument: 'segmentIds', expected, received },
    );
  }
  const innerShape = x.shape.slice(k);
  const out = backend.makeOutput([numSegments, ...innerShape], x.dtype);
  // Views only after makeOutput: allocating may grow the wasm memory, which detaches earlier views.
  // malloc'd memory is not zeroed.
  const outValues = backend.typedArrayFromHeap(out) as Float32Array | Int32Array;
  outValues.fill(0);
  const xValues = backend.typedArrayFromHeap(x) as Float32Array | Int32Array;
  const ids = backend.typedArrayFromHeap(segmentIds);
  segmentSumInto(outValues, xValues, ids, sizeOf(segmentIds.shape), sizeOf(innerShape), numSegments);
  return out;
}

const WASM_TRAINING_KERNELS: readonly tf.KernelConfig[] = [
  {
    kernelName: tf.UnsortedSegmentSum,
    backendName: 'wasm',
    kernelFunc: unsortedSegmentSumWasm as unknown as tf.KernelFunc,
  },
];

/**
 * Registers, for tfjs's wasm backend, the kernels that training common tfjs-layers models needs and
 * that tfjs-backend-wasm 4.x lacks — each only when no kernel of that name is registered for
 * `'wasm'` yet, so a tfjs release that adds its own keeps it. Today: `UnsortedSegmentSum`, the
 * gradient of `tf.gather`, without which any model with a `tf.layers.embedding` fails to train on
 * wasm ("Kernel 'UnsortedSegmentSum' not registered for backend 'wasm'").
 *
 * Call it once, before the first gradient pass on wasm; it does not import or initialise the wasm
 * backend and can run before `tf.setBackend('wasm')`. The kernel sums in one pass over the rows
 * (O(N·D) for N token ids of width D, plus zeroing the [V, D] output), where tfjs's cpu kernel loops
 * over all V segments; ids outside [0, V) are dropped, as on the cpu backend.
 *
 * @returns The kernel names registered by this call (empty when all were already registered).
 * @example
 * ```ts
 * import '@tensorflow/tfjs-backend-wasm';
 * import { registerWasmTrainingKernels } from 'ganpo';
 * registerWasmTrainingKernels(); // ['UnsortedSegmentSum'] the first time
 * await tf.setBackend('wasm');
 * ```
 */
export function registerWasmTrainingKernels(): string[] {
  const registered: string[] = [];
  for (const config of WASM_TRAINING_KERNELS) {
    if (tf.getKernel(config.kernelName, config.backendName) !== undefined) continue;
    tf.registerKernel(config);
    registered.push(config.kernelName);
  }
  return registered;
}
