// PositionEmbedding: GPT-2's learned absolute positions as a tfjs-layers layer.
import * as tf from '@tensorflow/tfjs-core';
import { argumentError } from '../../core/errors';
import { assertNumber } from '../../core/validate';
import { InitializedLayer, type LayerArgs, type LayerVariable, lastDim, type Shape, single } from './common';

/** Arguments of {@link PositionEmbedding}. */
export type PositionEmbeddingArgs = LayerArgs & {
  /** Longest sequence the learned positions cover. Required. */
  maxSeqLen: number;
  /** Standard deviation of the N(0, σ²) kernel initialisation. Default 0.02 (GPT-2). */
  initializerRange?: number;
  /** Seed of the initialiser. Default: unseeded. */
  seed?: number;
};

/**
 * Learned absolute positions (GPT-2's `wpe`): x [B, T, d] → x + P[:T] with a weight `positions`
 * [maxSeqLen, d]. Put it after a `TokenEmbedding` (or `tf.layers.embedding`) of the token ids.
 *
 * @throws GanpoError `OUT_OF_RANGE` when T exceeds `maxSeqLen`.
 */
export class PositionEmbedding extends InitializedLayer {
  static className = 'GanpoPositionEmbedding';
  readonly maxSeqLen: number;
  private positions?: LayerVariable;

  /** A new layer; see {@link PositionEmbeddingArgs} for the arguments and their defaults. */
  constructor(args: PositionEmbeddingArgs) {
    super('PositionEmbedding', args);
    this.maxSeqLen = assertNumber('PositionEmbedding', 'maxSeqLen', args.maxSeqLen, {
      min: 1,
      integer: true,
    });
  }

  override build(inputShape: Shape | Shape[]): void {
    const d = lastDim(inputShape, 'PositionEmbedding');
    this.positions = this.addWeight(
      'positions',
      [this.maxSeqLen, d],
      'float32',
      this.normalInit(this.initializerRange),
    );
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    return inputShape as Shape;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = single(inputs);
    const t = x.shape[1] as number;
    if (t > this.maxSeqLen) {
      throw argumentError(
        'OUT_OF_RANGE',
        'PositionEmbedding',
        'inputs',
        `at most maxSeqLen = ${this.maxSeqLen} positions`,
        String(t),
      );
    }
    const d = x.shape[2] as number;
    return tf.tidy(() => tf.add(x, tf.slice((this.positions as LayerVariable).read(), [0, 0], [t, d])));
  }

  /** The config tfjs-layers serialises: the constructor's arguments. */
  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      maxSeqLen: this.maxSeqLen,
    };
  }
}

tf.serialization.registerClass(PositionEmbedding);
