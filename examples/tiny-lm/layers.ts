// The tiny LM's custom tfjs-layers layers. They live in the example, not in the library: ganpo
// works with whatever model the user has, and this is one such user model.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { causalMaskBias, gelu, layerNorm, linear } from './ops';

type LayerArgs = NonNullable<ConstructorParameters<typeof tfl.layers.Layer>[0]>;
type Initializer = ReturnType<typeof tfl.initializers.zeros>;
type Shape = (number | null)[];
type LayerVariable = ReturnType<tfl.layers.Layer['addWeight']>;
type Kwargs = Record<string, unknown>;

// GPT-2 / nanoGPT initialisation: N(0, 0.02) weights, zero biases, unit LayerNorm gains.
const normal = (stddev: number, seed: number) => tfl.initializers.randomNormal({ mean: 0, stddev, seed });
const zeros = () => tfl.initializers.zeros();
const ones = () => tfl.initializers.ones();
const single = (inputs: tf.Tensor | tf.Tensor[]): tf.Tensor =>
  Array.isArray(inputs) ? (inputs[0] as tf.Tensor) : inputs;
const read = (v: LayerVariable | undefined): tf.Tensor => (v as LayerVariable).read();

/** Arguments of {@link TokenPositionEmbedding}. */
export type TokenPositionEmbeddingArgs = LayerArgs & {
  vocabSize: number;
  dim: number;
  maxSeqLen: number;
  seed: number;
};

/**
 * ids [B,T] int32 → oneHot(ids)·E + P[:T], [B,T,H]. The one-hot product replaces `gather`, whose
 * gradient needs UnsortedSegmentSum, which tfjs-backend-wasm 4.22 does not implement.
 */
export class TokenPositionEmbedding extends tfl.layers.Layer {
  static className = 'TinyLMTokenPositionEmbedding';
  readonly vocabSize: number;
  readonly dim: number;
  readonly maxSeqLen: number;
  readonly seed: number;
  private tokens?: LayerVariable;
  private positions?: LayerVariable;

  constructor(args: TokenPositionEmbeddingArgs) {
    super(args);
    this.vocabSize = args.vocabSize;
    this.dim = args.dim;
    this.maxSeqLen = args.maxSeqLen;
    this.seed = args.seed;
  }

  override build(): void {
    this.tokens = this.addWeight('tokens', [this.vocabSize, this.dim], 'float32', normal(0.02, this.seed));
    this.positions = this.addWeight(
      'positions',
      [this.maxSeqLen, this.dim],
      'float32',
      normal(0.02, this.seed + 1),
    );
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const s = inputShape as Shape;
    return [s[0] ?? null, s[1] ?? null, this.dim];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const ids = single(inputs);
      const [b, t] = ids.shape as [number, number];
      if (t > this.maxSeqLen)
        throw new Error(`TinyLM: sequence length ${t} exceeds maxSeqLen ${this.maxSeqLen}`);
      const oneHot = tf.cast(tf.oneHot(tf.reshape(tf.cast(ids, 'int32'), [-1]), this.vocabSize), 'float32');
      const tok = tf.reshape(linear(oneHot, read(this.tokens) as tf.Tensor2D), [b, t, this.dim]);
      return tf.add(tok, tf.slice(read(this.positions), [0, 0], [t, this.dim]));
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      vocabSize: this.vocabSize,
      dim: this.dim,
      maxSeqLen: this.maxSeqLen,
      seed: this.seed,
    };
  }
}

/** Arguments of {@link CausalTransformerBlock}. */
export type CausalTransformerBlockArgs = LayerArgs & {
  dim: number;
  numHeads: number;
  ffnDim: number;
  /** Number of blocks in the model, for GPT-2's 1/√(2·layers) scaling of residual projections. */
  numLayers: number;
  dropout: number;
  seed: number;
};

/**
 * Pre-LN causal self-attention block (GPT-2): x += Wo·Attn(LN1 x); x += W2·GELU(W1·LN2 x).
 * Attention is written with matMul + softmax (tfjs's einsum has no gradient). Right-padded
 * batches need no key-padding mask: with causal attention, real tokens never see later padding.
 */
export class CausalTransformerBlock extends tfl.layers.Layer {
  static className = 'TinyLMCausalTransformerBlock';
  readonly dim: number;
  readonly numHeads: number;
  readonly ffnDim: number;
  readonly numLayers: number;
  readonly dropout: number;
  readonly seed: number;
  private w: Record<string, LayerVariable> = {};

  constructor(args: CausalTransformerBlockArgs) {
    super(args);
    if (args.dim % args.numHeads !== 0)
      throw new Error(`TinyLM: dim ${args.dim} not divisible by numHeads ${args.numHeads}`);
    this.dim = args.dim;
    this.numHeads = args.numHeads;
    this.ffnDim = args.ffnDim;
    this.numLayers = args.numLayers;
    this.dropout = args.dropout;
    this.seed = args.seed;
  }

  override build(): void {
    const h = this.dim;
    const f = this.ffnDim;
    const residual = 0.02 / Math.sqrt(2 * this.numLayers);
    const add = (name: string, shape: number[], init: Initializer) => {
      this.w[name] = this.addWeight(name, shape, 'float32', init);
    };
    add('ln1_gamma', [h], ones());
    add('ln1_beta', [h], zeros());
    add('qkv_kernel', [h, 3 * h], normal(0.02, this.seed));
    add('qkv_bias', [3 * h], zeros());
    add('out_kernel', [h, h], normal(residual, this.seed + 1));
    add('out_bias', [h], zeros());
    add('ln2_gamma', [h], ones());
    add('ln2_beta', [h], zeros());
    add('fc1_kernel', [h, f], normal(0.02, this.seed + 2));
    add('fc1_bias', [f], zeros());
    add('fc2_kernel', [f, h], normal(residual, this.seed + 3));
    add('fc2_bias', [h], zeros());
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    return inputShape as Shape;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = single(inputs);
      const training = kwargs.training === true;
      const p = (n: string) => read(this.w[n]);
      const [b, t, h] = x.shape as [number, number, number];
      const nh = this.numHeads;
      const dh = h / nh;
      const drop = (y: tf.Tensor) => (training && this.dropout > 0 ? tf.dropout(y, this.dropout) : y);

      const a = layerNorm(x, p('ln1_gamma') as tf.Tensor1D, p('ln1_beta') as tf.Tensor1D);
      const qkv = linear(a, p('qkv_kernel') as tf.Tensor2D, p('qkv_bias') as tf.Tensor1D);
      // [B,T,H] → [B·nh, T, dh]
      const heads = (y: tf.Tensor) =>
        tf.reshape(tf.transpose(tf.reshape(y, [b, t, nh, dh]), [0, 2, 1, 3]), [b * nh, t, dh]);
      const [q, k, v] = tf.split(qkv, 3, -1).map(heads) as [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D];
      const scores = tf.add(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(dh)), causalMaskBias(t));
      const att = drop(tf.softmax(scores, -1)) as tf.Tensor3D;
      const ctx = tf.reshape(tf.transpose(tf.reshape(tf.matMul(att, v), [b, nh, t, dh]), [0, 2, 1, 3]), [
        b,
        t,
        h,
      ]);
      const x1 = tf.add(x, drop(linear(ctx, p('out_kernel') as tf.Tensor2D, p('out_bias') as tf.Tensor1D)));

      const m = layerNorm(x1, p('ln2_gamma') as tf.Tensor1D, p('ln2_beta') as tf.Tensor1D);
      const hidden = gelu(linear(m, p('fc1_kernel') as tf.Tensor2D, p('fc1_bias') as tf.Tensor1D));
      return tf.add(x1, drop(linear(hidden, p('fc2_kernel') as tf.Tensor2D, p('fc2_bias') as tf.Tensor1D)));
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      dim: this.dim,
      numHeads: this.numHeads,
      ffnDim: this.ffnDim,
      numLayers: this.numLayers,
      dropout: this.dropout,
      seed: this.seed,
    };
  }
}

/** Final LayerNorm (PyTorch epsilon 1e-5): its output is the model's last hidden state, GANPO's latent. */
export class FinalLayerNorm extends tfl.layers.Layer {
  static className = 'TinyLMFinalLayerNorm';
  readonly dim: number;
  private gamma?: LayerVariable;
  private beta?: LayerVariable;

  constructor(args: LayerArgs & { dim: number }) {
    super(args);
    this.dim = args.dim;
  }

  override build(): void {
    this.gamma = this.addWeight('gamma', [this.dim], 'float32', ones());
    this.beta = this.addWeight('beta', [this.dim], 'float32', zeros());
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    return inputShape as Shape;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() =>
      layerNorm(single(inputs), read(this.gamma) as tf.Tensor1D, read(this.beta) as tf.Tensor1D),
    );
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), dim: this.dim };
  }
}

/** Vocabulary head: hidden [B,T,H] → logits [B,T,V] (untied from the embedding, with a bias). */
export class VocabularyHead extends tfl.layers.Layer {
  static className = 'TinyLMVocabularyHead';
  readonly dim: number;
  readonly vocabSize: number;
  readonly seed: number;
  private kernel?: LayerVariable;
  private bias?: LayerVariable;

  constructor(args: LayerArgs & { dim: number; vocabSize: number; seed: number }) {
    super(args);
    this.dim = args.dim;
    this.vocabSize = args.vocabSize;
    this.seed = args.seed;
  }

  override build(): void {
    this.kernel = this.addWeight('kernel', [this.dim, this.vocabSize], 'float32', normal(0.02, this.seed));
    this.bias = this.addWeight('bias', [this.vocabSize], 'float32', zeros());
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const s = inputShape as Shape;
    return [s[0] ?? null, s[1] ?? null, this.vocabSize];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() =>
      linear(single(inputs), read(this.kernel) as tf.Tensor2D, read(this.bias) as tf.Tensor1D),
    );
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), dim: this.dim, vocabSize: this.vocabSize, seed: this.seed };
  }
}

for (const cls of [TokenPositionEmbedding, CausalTransformerBlock, FinalLayerNorm, VocabularyHead]) {
  tf.serialization.registerClass(cls);
}
