// Dense: a dense layer on fastLinear (../fast-linear.ts), optionally with exact GELU (../gelu.ts).
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { argumentError } from '../../core/errors';
import { assertNumber } from '../../core/validate';
import { fastLinear } from '../fast-linear';
import { geluErf } from '../gelu';
import { InitializedLayer, type LayerArgs, type LayerVariable, lastDim, type Shape, single } from './common';

/** Arguments of {@link Dense}. */
export type DenseArgs = LayerArgs & {
  /** Output width. Required. */
  units: number;
  /** Add a bias (zeros at the start). Default true. */
  useBias?: boolean;
  /** `'linear'` (none, the default) or `'gelu'` (exact erf GELU, PyTorch's `nn.GELU()`). */
  activation?: 'linear' | 'gelu';
  /** Standard deviation of the N(0, σ²) kernel initialisation. Default 0.02 (GPT-2). */
  initializerRange?: number;
  /** Seed of the kernel initialiser. Default: unseeded. */
  seed?: number;
};

/**
 * A dense layer over the last axis (`tf.layers.dense` with a kernel `kernel` [in, units] and a bias
 * `bias` [units]) computed by {@link fastLinear}: on wasm ganpo's SIMD GEMM, and a backward pass
 * without the transposed matMuls that take tfjs-backend-wasm's slow path. Any input rank ≥ 2.
 */
export class Dense extends InitializedLayer {
  static className = 'GanpoDense';
  readonly units: number;
  readonly useBias: boolean;
  readonly activation: 'linear' | 'gelu';
  private kernel?: LayerVariable;
  private bias?: LayerVariable;

  /** A new layer; see {@link DenseArgs} for the arguments and their defaults. */
  constructor(args: DenseArgs) {
    super('Dense', args);
    this.units = assertNumber('Dense', 'units', args.units, { min: 1, integer: true });
    this.useBias = args.useBias ?? true;
    const activation = args.activation ?? 'linear';
    if (activation !== 'linear' && activation !== 'gelu') {
      throw argumentError('INVALID_OPTION', 'Dense', 'activation', "'linear' or 'gelu'", String(activation));
    }
    this.activation = activation;
  }

  override build(inputShape: Shape | Shape[]): void {
    const d = lastDim(inputShape, 'Dense');
    this.kernel = this.addWeight(
      'kernel',
      [d, this.units],
      'float32',
      this.normalInit(this.initializerRange),
    );
    if (this.useBias) this.bias = this.addWeight('bias', [this.units], 'float32', tfl.initializers.zeros());
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const s = inputShape as Shape;
    return [...s.slice(0, -1), this.units];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const y = fastLinear(
        single(inputs),
        (this.kernel as LayerVariable).read() as tf.Tensor2D,
        this.bias ? (this.bias.read() as tf.Tensor1D) : null,
      );
      return this.activation === 'gelu' ? geluErf(y) : y;
    });
  }

  /** The config tfjs-layers serialises: the constructor's arguments. */
  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      units: this.units,
      useBias: this.useBias,
      activation: this.activation,
    };
  }
}

tf.serialization.registerClass(Dense);
