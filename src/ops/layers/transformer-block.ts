// TransformerBlock: ganpo's pre-LN transformer block (../transformer-block.ts) as a tfjs-layers layer.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { argumentError } from '../../core/errors';
import { assertNumber } from '../../core/validate';
import {
  type TransformerBlockWeights,
  transformerBlock,
  transformerBlockShapes,
  type WeightName,
} from '../transformer-block';
import { InitializedLayer, type LayerArgs, type LayerVariable, lastDim, type Shape, single } from './common';

/** The layer's weight names (snake case, as in PyTorch state dicts) for each block weight, in order. */
const LAYER_NAMES: Record<WeightName, string> = {
  ln1Gamma: 'ln1_gamma',
  ln1Beta: 'ln1_beta',
  qkvKernel: 'qkv_kernel',
  qkvBias: 'qkv_bias',
  outKernel: 'out_kernel',
  outBias: 'out_bias',
  ln2Gamma: 'ln2_gamma',
  ln2Beta: 'ln2_beta',
  fc1Kernel: 'fc1_kernel',
  fc1Bias: 'fc1_bias',
  fc2Kernel: 'fc2_kernel',
  fc2Bias: 'fc2_bias',
};

/** Arguments of {@link TransformerBlock}. */
export type TransformerBlockArgs = LayerArgs & {
  /** Attention heads; must divide the input width d. Required. */
  numHeads: number;
  /** Feed-forward width. Default 4·d (GPT-2). */
  ffnDim?: number;
  /** Causal self-attention (a GPT decoder block). Default true; false: an encoder block. */
  causal?: boolean;
  /** Dropout on the attention weights and the residual branches while training. Default 0. */
  dropout?: number;
  /** LayerNorm epsilon. Default 1e-5 (PyTorch). */
  layerNormEpsilon?: number;
  /**
   * Blocks in the model: the two residual projections start at σ/√(2·numLayers), GPT-2's scaling
   * (Hugging Face `GPT2PreTrainedModel._init_weights`). Default 1.
   */
  numLayers?: number;
  /** Standard deviation of the N(0, σ²) kernel initialisation. Default 0.02 (GPT-2). */
  initializerRange?: number;
  /** Seed of the kernels: qkv, out, fc1 and fc2 use seed, seed + 1, seed + 2, seed + 3. Default: unseeded. */
  seed?: number;
};

/**
 * A pre-LN transformer block (GPT-2) as a tfjs-layers layer, computed by {@link transformerBlock}:
 * fused causal attention over the packed q | k | v projection, ganpo's GEMM for every product,
 * fused LayerNorm and exact GELU. Input [B, T, d], or [x, attentionMask] with a [B, T] 0/1 key
 * padding mask; output [B, T, d]. Weights, in order: `ln1_gamma`, `ln1_beta`, `qkv_kernel` [d, 3d],
 * `qkv_bias`, `out_kernel` [d, d], `out_bias`, `ln2_gamma`, `ln2_beta`, `fc1_kernel` [d, f],
 * `fc1_bias`, `fc2_kernel` [f, d], `fc2_bias` (kernels are Wᵀ of PyTorch's `nn.Linear.weight`;
 * biases start at 0, LayerNorm scales at 1).
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { Dense, LayerNorm, TransformerBlock } from 'ganpo/ops';
 * const ids = tf.input({ shape: [null], dtype: 'int32' });
 * let x = tf.layers.embedding({ inputDim: 256, outputDim: 128 }).apply(ids) as tf.SymbolicTensor;
 * for (let i = 0; i < 4; i++) x = new TransformerBlock({ numHeads: 4, numLayers: 4 }).apply(x) as tf.SymbolicTensor;
 * const hidden = new LayerNorm({}).apply(x) as tf.SymbolicTensor;
 * const logits = new Dense({ units: 256 }).apply(hidden) as tf.SymbolicTensor;
 * const model = tf.model({ inputs: ids, outputs: [logits, hidden] });
 * ```
 */
export class TransformerBlock extends InitializedLayer {
  /** The name `tf.serialization.registerClass` records (and `model.save` writes). */
  static className = 'GanpoTransformerBlock';
  readonly numHeads: number;
  readonly ffnDim: number | undefined;
  readonly causal: boolean;
  readonly dropout: number;
  readonly layerNormEpsilon: number;
  readonly numLayers: number;
  private readonly w = {} as Record<WeightName, LayerVariable>;

  /** A new layer; see {@link TransformerBlockArgs} for the arguments and their defaults. */
  constructor(args: TransformerBlockArgs) {
    super('TransformerBlock', args);
    const where = 'TransformerBlock';
    this.numHeads = assertNumber(where, 'numHeads', args.numHeads, { min: 1, integer: true });
    this.ffnDim =
      args.ffnDim === undefined
        ? undefined
        : assertNumber(where, 'ffnDim', args.ffnDim, { min: 1, integer: true });
    this.causal = args.causal ?? true;
    this.dropout = assertNumber(where, 'dropout', args.dropout ?? 0, { min: 0, lessThan: 1 });
    this.layerNormEpsilon = assertNumber(where, 'layerNormEpsilon', args.layerNormEpsilon ?? 1e-5, {
      greaterThan: 0,
    });
    this.numLayers = assertNumber(where, 'numLayers', args.numLayers ?? 1, { min: 1, integer: true });
  }

  override build(inputShape: Shape | Shape[]): void {
    const d = lastDim(inputShape, 'TransformerBlock');
    if (d % this.numHeads !== 0) {
      throw argumentError(
        'SHAPE_MISMATCH',
        'TransformerBlock',
        'numHeads',
        `a divisor of the width ${d}`,
        String(this.numHeads),
      );
    }
    const f = this.ffnDim ?? 4 * d;
    const sigma = this.initializerRange;
    const residual = sigma / Math.sqrt(2 * this.numLayers);
    // GPT-2: N(0, σ²) kernels, the residual projections (out, fc2) scaled; unit scales, zero shifts.
    const kernels: Partial<Record<WeightName, ReturnType<typeof tfl.initializers.ones>>> = {
      qkvKernel: this.normalInit(sigma, 0),
      outKernel: this.normalInit(residual, 1),
      fc1Kernel: this.normalInit(sigma, 2),
      fc2Kernel: this.normalInit(residual, 3),
    };
    const init = (name: WeightName) =>
      kernels[name] ?? (name.endsWith('Gamma') ? tfl.initializers.ones() : tfl.initializers.zeros());
    for (const [name, shape] of Object.entries(transformerBlockShapes(d, f)) as [WeightName, number[]][]) {
      this.w[name] = this.addWeight(LAYER_NAMES[name], shape, 'float32', init(name));
    }
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    return (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as Shape;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor {
    const x = single(inputs) as tf.Tensor3D;
    const mask = Array.isArray(inputs) && inputs.length > 1 ? (inputs[1] as tf.Tensor2D) : undefined;
    const weights = Object.fromEntries(
      Object.entries(this.w).map(([name, v]) => [name, v.read()]),
    ) as unknown as TransformerBlockWeights;
    return transformerBlock(x, weights, {
      numHeads: this.numHeads,
      causal: this.causal,
      ...(mask ? { attentionMask: mask } : {}),
      dropout: this.dropout,
      training: kwargs.training === true,
      layerNormEpsilon: this.layerNormEpsilon,
    });
  }

  /** The config tfjs-layers serialises: the constructor's arguments. */
  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      numHeads: this.numHeads,
      ...(this.ffnDim === undefined ? {} : { ffnDim: this.ffnDim }),
      causal: this.causal,
      dropout: this.dropout,
      layerNormEpsilon: this.layerNormEpsilon,
      numLayers: this.numLayers,
    };
  }
}

tf.serialization.registerClass(TransformerBlock);
