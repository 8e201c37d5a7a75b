// TokenEmbedding: tfjs-layers' Embedding layer with its lookup computed by embeddingLookup.
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { assertNumber } from '../../core/validate';
import { embeddingLookup } from '../embedding-lookup';
import { checkedLayerArgs, single } from './common';

/** Arguments of {@link TokenEmbedding}: exactly those of `tf.layers.embedding`. */
export type TokenEmbeddingArgs = Parameters<typeof tfl.layers.embedding>[0];
type EmbeddingLayer = ReturnType<typeof tfl.layers.embedding>;
type Kwargs = Parameters<EmbeddingLayer['call']>[1];

/**
 * tfjs-layers' `Embedding` class, the one `tf.layers.embedding` instantiates. tfjs-layers does not
 * export it; every tfjs-layers layer is registered for deserialisation under its class name.
 */
const EmbeddingBase = (() => {
  const entry = tf.serialization.SerializationMap.getMap().classNameMap.Embedding;
  if (!entry)
    throw new Error("ganpo: tfjs-layers' Embedding layer is not registered; import @tensorflow/tfjs-layers");
  return entry[0] as unknown as (new (
    args: TokenEmbeddingArgs,
  ) => EmbeddingLayer) &
    Pick<typeof tf.serialization.Serializable, 'fromConfig'>;
})();

/** `args` checked with ganpo's errors before tfjs-layers reads them. */
function checkedArgs(args: TokenEmbeddingArgs): TokenEmbeddingArgs {
  checkedLayerArgs('TokenEmbedding', args);
  assertNumber('TokenEmbedding', 'inputDim', args.inputDim, { min: 1, integer: true });
  assertNumber('TokenEmbedding', 'outputDim', args.outputDim, { min: 1, integer: true });
  return args;
}

/**
 * A token embedding, ids [B, T] (any shape) int32 → [B, T, outputDim]: `tf.layers.embedding` with
 * the lookup computed by {@link embeddingLookup} (on wasm one SIMD row copy instead of tfjs's
 * GatherV2; elsewhere the same `tf.gather`). It is tfjs-layers' `Embedding` in everything else, so
 * it swaps in for `tf.layers.embedding({ ... })` with the same arguments, defaults and values: one
 * weight `embeddings` [inputDim, outputDim] drawn by `embeddingsInitializer` (default
 * `'randomUniform'`, U(−0.05, 0.05), tfjs-layers' and Keras' default; GPT-2 uses N(0, 0.02²):
 * pass `tf.initializers.randomNormal({ mean: 0, stddev: 0.02 })`), `embeddingsRegularizer`,
 * `embeddingsConstraint`, `maskZero` (default false) and `inputLength` as documented for
 * `tf.layers.embedding` (https://js.tensorflow.org/api/latest/#layers.embedding). Float ids are cast
 * to int32, as there. PyTorch's counterpart is `nn.Embedding(inputDim, outputDim)`.
 *
 * Ids outside [0, inputDim) are refused with GanpoError `OUT_OF_RANGE` (see {@link embeddingLookup}).
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { PositionEmbedding, TokenEmbedding } from 'ganpo/ops';
 * const ids = tf.input({ shape: [null], dtype: 'int32' });
 * const tokens = new TokenEmbedding({ inputDim: 256, outputDim: 128 }).apply(ids) as tf.SymbolicTensor;
 * const x = new PositionEmbedding({ maxSeqLen: 64 }).apply(tokens) as tf.SymbolicTensor; // [B, T, 128]
 * ```
 */
export class TokenEmbedding extends EmbeddingBase {
  /** The name `tf.serialization.registerClass` records (and `model.save` writes). */
  static className = 'GanpoTokenEmbedding';

  /** A new layer; the arguments and defaults are `tf.layers.embedding`'s ({@link TokenEmbeddingArgs}). */
  constructor(args: TokenEmbeddingArgs) {
    super(checkedArgs(args));
  }

  /** ids [...] → [..., outputDim] by {@link embeddingLookup} (float ids cast to int32 first). */
  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      this.invokeCallHook(inputs, kwargs);
      const x = single(inputs);
      const ids = x.dtype === 'int32' ? x : tf.cast(x, 'int32');
      return embeddingLookup((this.weights[0] as tfl.LayerVariable).read() as tf.Tensor2D, ids);
    });
  }
}

tf.serialization.registerClass(TokenEmbedding);
