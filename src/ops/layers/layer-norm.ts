// LayerNorm: ganpo's fused LayerNorm (../layer-norm.ts) as a tfjs-layers layer.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { assertNumber } from '../../core/validate';
import { layerNorm } from '../layer-norm';
import { checkedLayerArgs, type LayerArgs, type LayerVariable, lastDim, type Shape, single } from './common';

/** Arguments of {@link LayerNorm}. */
export type LayerNormArgs = LayerArgs & {
  /** Default 1e-5, PyTorch's `nn.LayerNorm` (tfjs-layers' `layerNormalization` defaults to 1e-3). */
  epsilon?: number;
};

/**
 * LayerNorm over the last axis (`nn.LayerNorm(d)`), computed by {@link layerNorm}: a fused gradient,
 * one SIMD kernel each way on wasm. Weights `gamma` [d] (ones) and `beta` [d] (zeros). Any input rank ≥ 2.
 */
export class LayerNorm extends tfl.layers.Layer {
  static className = 'GanpoLayerNorm';
  readonly epsilon: number;
  private gamma?: LayerVariable;
  private beta?: LayerVariable;

  /** A new layer; see {@link LayerNormArgs} for the arguments and their defaults. */
  constructor(args: LayerNormArgs = {}) {
    super(checkedLayerArgs('LayerNorm', args));
    this.epsilon = assertNumber('LayerNorm', 'epsilon', args.epsilon ?? 1e-5, { greaterThan: 0 });
  }

  override build(inputShape: Shape | Shape[]): void {
    const d = lastDim(inputShape, 'LayerNorm');
    this.gamma = this.addWeight('gamma', [d], 'float32', tfl.initializers.ones());
    this.beta = this.addWeight('beta', [d], 'float32', tfl.initializers.zeros());
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    return inputShape as Shape;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = single(inputs);
    const d = x.shape[x.rank - 1] as number;
    return tf.tidy(() => {
      const y = layerNorm(
        tf.reshape(x, [-1, d]) as tf.Tensor2D,
        (this.gamma as LayerVariable).read() as tf.Tensor1D,
        (this.beta as LayerVariable).read() as tf.Tensor1D,
        this.epsilon,
      );
      return tf.reshape(y, x.shape);
    });
  }

  /** The config tfjs-layers serialises: the constructor's arguments. */
  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), epsilon: this.epsilon };
  }
}

tf.serialization.registerClass(LayerNorm);
