import * as tf from '@tensorflow/tfjs-core';
import { argumentError } from '../core/errors';
import { assertDtype, assertRank, assertTensor, assertValueRange } from '../core/validate';
import { kernelFlags } from './kernel-flags';
import { GATHER_ROWS, wasmGatherRowsAvailable } from './wasm/gather-rows-kernel';
import { registerWasmTrainingKernels } from './wasm-training-kernels';

const WHERE = 'embeddingLookup';

/**
 * Backends whose tensors live in host memory: reading the ids there is a copy, not a device sync,
 * and `tf.gather` itself reads them on every call to refuse out-of-range ids.
 */
const HOST_MEMORY_BACKENDS = new Set(['cpu', 'wasm', 'tensorflow']);

/** Refuses ids outside [0, vocab) before anything is computed, with the range that was received. */
function assertIdsInRange(ids: tf.Tensor, vocab: number): void {
  if (!HOST_MEMORY_BACKENDS.has(tf.getBackend())) {
    assertValueRange(WHERE, 'ids', ids, 0, vocab);
    return;
  }
  const values = ids.dataSync();
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (values.length > 0 && !(lo >= 0 && hi < vocab)) {
    throw argumentError('OUT_OF_RANGE', WHERE, 'ids', `values in [0, ${vocab})`, `values in [${lo}, ${hi}]`);
  }
}

/**
 * Token-embedding lookup: out[..., :] = table[ids[...], :], the rows of `table` picked by `ids`
 * (`tf.gather(table, ids)`, PyTorch's `F.embedding(ids, table)`).
 *
 * On the wasm backend one WebAssembly SIMD kernel copies the rows (./wasm/gather-rows-simd.ts),
 * where tfjs-backend-wasm's GatherV2 is an order of magnitude slower (docs/models.md, "What runs
 * underneath"); elsewhere `tf.gather`. The values are the table's floats, bit for bit, everywhere.
 *
 * Gradient w.r.t. the table: dTable[v, :] = Σ_{i : ids[i] = v} dy[i, :], computed as
 * `tf.gather`'s gradient computes it (`tf.unsortedSegmentSum` of dy's rows), so both agree bit for
 * bit; none w.r.t. the ids.
 *
 * Out-of-range ids are refused, as `tf.gather` refuses them on the cpu and wasm backends: on
 * backends whose tensors live in host memory (cpu, wasm, tensorflow) on every call, since reading
 * the ids there needs no device sync; on GPU backends at validation level `'full'` outside a
 * gradient tape (`setValidationLevel`), and otherwise as `tf.gather` does there.
 *
 * @param table - [V, D] float32 embedding table (a `tf.Variable` when training).
 * @param ids - int32 token ids of any shape [...], each in [0, V).
 * @returns [..., D] float32, differentiable w.r.t. `table`.
 * @throws GanpoError `SHAPE_MISMATCH` when `table` is not 2-D, `INVALID_DTYPE` when `table` is not
 *   float32 or `ids` not int32, `OUT_OF_RANGE` for an id outside [0, V); a refused call creates
 *   no tensor.
 * @example
 * ```ts
 * import { embeddingLookup } from 'ganpo/ops';
 * const table = tf.variable(tf.randomNormal([256, 64], 0, 0.02));
 * const x = embeddingLookup(table, tf.tensor2d([[1, 5, 7]], [1, 3], 'int32')); // [1, 3, 64]
 * ```
 */
export function embeddingLookup(table: tf.Tensor, ids: tf.Tensor): tf.Tensor {
  assertRank(WHERE, 'table', table, 2);
  assertDtype(WHERE, 'table', table, ['float32']);
  assertTensor(WHERE, 'ids', ids);
  assertDtype(WHERE, 'ids', ids, ['int32']);
  // Checked here again at every validation level: the kernel's preconditions; anything else goes
  // to tf.gather, which refuses what it cannot gather.
  const wellFormed = table.rank === 2 && table.dtype === 'float32' && ids.dtype === 'int32';
  if (wellFormed) assertIdsInRange(ids, table.shape[0]);
  return wellFormed && ids.size > 0 && kernelFlags.wasmGatherRows && wasmGatherRowsAvailable()
    ? wasmLookup(table as tf.Tensor2D, ids)
    : tf.gather(table, ids);
}

function wasmLookup(table: tf.Tensor2D, ids: tf.Tensor): tf.Tensor {
  const [vocab, dim] = table.shape;
  const lookup = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [t, save] = args as [tf.Tensor2D, tf.GradSaveFunc];
    save([ids]);
    return {
      value: tf.engine().runKernel(GATHER_ROWS, { table: t, ids }) as tf.Tensor,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const savedIds = saved[0] as tf.Tensor;
        const n = savedIds.size;
        return [
          tf.unsortedSegmentSum(tf.reshape(dy, [n, dim]), tf.reshape(savedIds, [n]) as tf.Tensor1D, vocab),
        ];
      },
    };
  });
  return lookup(table);
}

// tf.unsortedSegmentSum (the gradient above) has no tfjs-backend-wasm kernel of its own.
registerWasmTrainingKernels();
