// tfjs-layers layers on ganpo's kernels, for users' own transformer models: use them inside
// `tf.sequential` / `tf.model` like `tf.layers.*`; they serialise with `model.save` (registered with
// `tf.serialization.registerClass`) and run the functions of ./transformer-block.ts, ./layer-norm.ts
// and ./fast-linear.ts. Loading this module also registers the wasm kernels that training a
// `tf.layers.embedding` (a `gather`) needs on wasm (./wasm-training-kernels.ts).
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { argumentError } from '../core/errors';
import { assertNumber } from '../core/validate';
import { fastLinear } from './fast-linear';
import { geluErf } from './gelu';
import { layerNorm } from './layer-norm';
import { transformerBlock } from './transformer-block';
import { registerWasmTrainingKernels } from './wasm-training-kernels';

/** The common arguments of every tfjs-layers layer (`name`, `trainable`, `inputShape`, …). */
export type LayerArgs = NonNullable<ConstructorParameters<typeof tfl.layers.Layer>[0]>;
type Shape = (number | null)[];
type LayerVariable = ReturnType<tfl.layers.Layer['addWeight']>;

/** GPT-2's `initializer_range` (Hugging Face transformers `GPT2Config`): N(0, 0.02²) weights. */
const GPT2_INITIALIZER_RANGE = 0.02;

const normal = (stddev: number, seed: number | undefined) =>
  tfl.initializers.randomNormal({ mean: 0, stddev, ...(seed === undefined ? {} : { seed }) });
const single = (inputs: tf.Tensor | tf.Tensor[]): tf.Tensor =>
  Array.isArray(inputs) ? (inputs[0] as tf.Tensor) : inputs;
const lastDim = (shape: Shape | Shape[], where: string): number => {
  const s = (Array.isArray(shape[0]) ? shape[0] : shape) as Shape;
  const d = s[s.length - 1];
  if (typeof d !== 'number')
    throw argumentError('SHAPE_MISMATCH', where, 'inputShape', 'a known last dimension', String(d));
  return d;
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
  /** Standard deviation of the N(0, σ²) kernel initialisation. Default 0.02 (GPT-2). */
  initializerRange?: number;
  /**
   * Blocks in the model: the two residual projections start at σ/√(2·numLayers), GPT-2's scaling
   * (Hugging Face `GPT2PreTrainedModel._init_weights`). Default 1.
   */
  numLayers?: number;
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
export class TransformerBlock extends tfl.layers.Layer {
  /** The name `tf.serialization.registerClass` records (and `model.save` writes). */
  static className = 'GanpoTransformerBlock';
  readonly numHeads: number;
  readonly ffnDim: number | undefined;
  readonly causal: boolean;
  readonly dropout: number;
  readonly layerNormEpsilon: number;
  readonly initializerRange: number;
  readonly numLayers: number;
  readonly seed: number | undefined;
  private readonly w: Record<string, LayerVariable> = {};

  constructor(args: TransformerBlockArgs) {
    super(args);
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
    this.initializerRange = assertNumber(
      where,
      'initializerRange',
      args.initializerRange ?? GPT2_INITIALIZER_RANGE,
      {
        greaterThan: 0,
      },
    );
    this.numLayers = assertNumber(where, 'numLayers', args.numLayers ?? 1, { min: 1, integer: true });
    this.seed =
      args.seed === undefined ? undefined : assertNumber(where, 'seed', args.seed, { integer: true });
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
    const seed = (k: number): number | undefined => (this.seed === undefined ? undefined : this.seed + k);
    const add = (name: string, shape: number[], init: ReturnType<typeof tfl.initializers.ones>): void => {
      this.w[name] = this.addWeight(name, shape, 'float32', init);
    };
    add('ln1_gamma', [d], tfl.initializers.ones());
    add('ln1_beta', [d], tfl.initializers.zeros());
    add('qkv_kernel', [d, 3 * d], normal(sigma, seed(0)));
    add('qkv_bias', [3 * d], tfl.initializers.zeros());
    add('out_kernel', [d, d], normal(residual, seed(1)));
    add('out_bias', [d], tfl.initializers.zeros());
    add('ln2_gamma', [d], tfl.initializers.ones());
    add('ln2_beta', [d], tfl.initializers.zeros());
    add('fc1_kernel', [d, f], normal(sigma, seed(2)));
    add('fc1_bias', [f], tfl.initializers.zeros());
    add('fc2_kernel', [f, d], normal(residual, seed(3)));
    add('fc2_bias', [d], tfl.initializers.zeros());
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    return (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as Shape;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor {
    const x = single(inputs) as tf.Tensor3D;
    const mask = Array.isArray(inputs) && inputs.length > 1 ? (inputs[1] as tf.Tensor2D) : undefined;
    const r = (n: string) => (this.w[n] as LayerVariable).read();
    return transformerBlock(
      x,
      {
        ln1Gamma: r('ln1_gamma') as tf.Tensor1D,
        ln1Beta: r('ln1_beta') as tf.Tensor1D,
        qkvKernel: r('qkv_kernel') as tf.Tensor2D,
        qkvBias: r('qkv_bias') as tf.Tensor1D,
        outKernel: r('out_kernel') as tf.Tensor2D,
        outBias: r('out_bias') as tf.Tensor1D,
        ln2Gamma: r('ln2_gamma') as tf.Tensor1D,
        ln2Beta: r('ln2_beta') as tf.Tensor1D,
        fc1Kernel: r('fc1_kernel') as tf.Tensor2D,
        fc1Bias: r('fc1_bias') as tf.Tensor1D,
        fc2Kernel: r('fc2_kernel') as tf.Tensor2D,
        fc2Bias: r('fc2_bias') as tf.Tensor1D,
      },
      {
        numHeads: this.numHeads,
        causal: this.causal,
        ...(mask ? { attentionMask: mask } : {}),
        dropout: this.dropout,
        training: kwargs.training === true,
        layerNormEpsilon: this.layerNormEpsilon,
      },
    );
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      numHeads: this.numHeads,
      ...(this.ffnDim === undefined ? {} : { ffnDim: this.ffnDim }),
      causal: this.causal,
      dropout: this.dropout,
      layerNormEpsilon: this.layerNormEpsilon,
      initializerRange: this.initializerRange,
      numLayers: this.numLayers,
      ...(this.seed === undefined ? {} : { seed: this.seed }),
    };
  }
}

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

  constructor(args: LayerNormArgs = {}) {
    super(args);
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

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), epsilon: this.epsilon };
  }
}

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
export class Dense extends tfl.layers.Layer {
  static className = 'GanpoDense';
  readonly units: number;
  readonly useBias: boolean;
  readonly activation: 'linear' | 'gelu';
  readonly initializerRange: number;
  readonly seed: number | undefined;
  private kernel?: LayerVariable;
  private bias?: LayerVariable;

  constructor(args: DenseArgs) {
    super(args);
    this.units = assertNumber('Dense', 'units', args.units, { min: 1, integer: true });
    this.useBias = args.useBias ?? true;
    const activation = args.activation ?? 'linear';
    if (activation !== 'linear' && activation !== 'gelu') {
      throw argumentError('INVALID_OPTION', 'Dense', 'activation', "'linear' or 'gelu'", String(activation));
    }
    this.activation = activation;
    this.initializerRange = assertNumber(
      'Dense',
      'initializerRange',
      args.initializerRange ?? GPT2_INITIALIZER_RANGE,
      {
        greaterThan: 0,
      },
    );
    this.seed =
      args.seed === undefined ? undefined : assertNumber('Dense', 'seed', args.seed, { integer: true });
  }

  override build(inputShape: Shape | Shape[]): void {
    const d = lastDim(inputShape, 'Dense');
    this.kernel = this.addWeight(
      'kernel',
      [d, this.units],
      'float32',
      normal(this.initializerRange, this.seed),
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

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      units: this.units,
      useBias: this.useBias,
      activation: this.activation,
      initializerRange: this.initializerRange,
      ...(this.seed === undefined ? {} : { seed: this.seed }),
    };
  }
}

/** Arguments of {@link PositionEmbedding}. */
export type PositionEmbeddingArgs = LayerArgs & {
  /** Longest sequence the learned positions cover. Required. */
  maxSeqLen: number;
  /** Standard deviation of the N(0, σ²) initialisation. Default 0.02 (GPT-2). */
  initializerRange?: number;
  /** Seed of the initialiser. Default: unseeded. */
  seed?: number;
};

/**
 * Learned absolute positions (GPT-2's `wpe`): x [B, T, d] → x + P[:T] with a weight `positions`
 * [maxSeqLen, d]. Put it after a `tf.layers.embedding` of the token ids.
 *
 * @throws GanpoError `OUT_OF_RANGE` when T exceeds `maxSeqLen`.
 */
export class PositionEmbedding extends tfl.layers.Layer {
  static className = 'GanpoPositionEmbedding';
  readonly maxSeqLen: number;
  readonly initializerRange: number;
  readonly seed: number | undefined;
  private positions?: LayerVariable;

  constructor(args: PositionEmbeddingArgs) {
    super(args);
    this.maxSeqLen = assertNumber('PositionEmbedding', 'maxSeqLen', args.maxSeqLen, {
      min: 1,
      integer: true,
    });
    this.initializerRange = assertNumber(
      'PositionEmbedding',
      'initializerRange',
      args.initializerRange ?? GPT2_INITIALIZER_RANGE,
      { greaterThan: 0 },
    );
    this.seed =
      args.seed === undefined
        ? undefined
        : assertNumber('PositionEmbedding', 'seed', args.seed, { integer: true });
  }

  override build(inputShape: Shape | Shape[]): void {
    const d = lastDim(inputShape, 'PositionEmbedding');
    this.positions = this.addWeight(
      'positions',
      [this.maxSeqLen, d],
      'float32',
      normal(this.initializerRange, this.seed),
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

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      maxSeqLen: this.maxSeqLen,
      initializerRange: this.initializerRange,
      ...(this.seed === undefined ? {} : { seed: this.seed }),
    };
  }
}

for (const cls of [TransformerBlock, LayerNorm, Dense, PositionEmbedding])
  tf.serialization.registerClass(cls);
registerWasmTrainingKernels();
