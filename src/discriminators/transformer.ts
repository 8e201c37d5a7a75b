import * as tf from '@tensorflow/tfjs-core';
import { argumentError } from '../core/errors';
import { brandClass } from '../core/instance';
import { assertKnownKeys } from '../core/options';
import { assertNumber, assertOneOf } from '../core/validate';
import { ownedVariable } from '../core/variables';
import { type AttentionImpl, selfAttentionCore } from '../ops/attention';
import { dropout as applyDropout } from '../ops/dropout';
import { fastLinear } from '../ops/fast-linear';
import { geluErf } from '../ops/gelu';
import { layerNorm } from '../ops/layer-norm';
import { BaseDiscriminator, loadDiscriminator } from './base';
import {
  LinearParams,
  layoutSpec,
  maskedMeanPool,
  type StateSpec,
  seedStream,
  transposedSpec,
  vectorSpec,
  xavierUniform,
} from './layers';
import { assertDim, assertParameterCount, DISCRIMINATOR_LIMITS, linearParameterCount } from './limits';
import type { HandlerOrUrl } from './persist';
import type { DiscriminatorApplyOptions } from './types';

/** Configuration of {@link TransformerDiscriminator}; defaults are the official `TransformerDiscriminator` (GANPO_trl.py). */
export interface TransformerDiscriminatorConfig {
  /** Latent size D of the hidden states [B,T,D] (the policy's hidden size). Required. */
  latentDim: number;
  /** Model width h. Default 512 (official code). */
  hiddenDim?: number;
  /** Pre-LN encoder layers. Default 2 (official code). */
  numLayers?: number;
  /** Attention heads; must divide hiddenDim. Default 8 (official code). */
  numHeads?: number;
  /** Feed-forward width. Default 4·hiddenDim (official code: 2048 at h = 512). */
  ffnDim?: number;
  /** Learned positions; longer inputs are truncated (mask too). Default 2048 (official code). */
  maxSeqLen?: number;
  /** Dropout rate where nn.TransformerEncoderLayer applies it. Default 0.1 (PyTorch/official). */
  dropout?: number;
  /** Spectral norm on the input projection and the head. Default true (official code). */
  spectralNorm?: boolean;
  /** LayerNorm ε. Default 1e-5 (PyTorch). */
  layerNormEpsilon?: number;
  /** Seed for deterministic initialisation; omitted = random. */
  seed?: number;
  /** Attention kernel strategy (see {@link AttentionImpl}). Default 'auto'. Not persisted. */
  attentionImpl?: AttentionImpl;
}

interface EncoderLayerParams {
  inProj: tf.Variable<tf.Rank.R2>;
  inProjBias: tf.Variable<tf.Rank.R1>;
  outProj: tf.Variable<tf.Rank.R2>;
  outProjBias: tf.Variable<tf.Rank.R1>;
  linear1: tf.Variable<tf.Rank.R2>;
  linear1Bias: tf.Variable<tf.Rank.R1>;
  linear2: tf.Variable<tf.Rank.R2>;
  linear2Bias: tf.Variable<tf.Rank.R1>;
  norm1Weight: tf.Variable<tf.Rank.R1>;
  norm1Bias: tf.Variable<tf.Rank.R1>;
  norm2Weight: tf.Variable<tf.Rank.R1>;
  norm2Bias: tf.Variable<tf.Rank.R1>;
}

const WHERE = 'TransformerDiscriminator';

/** The config keys `save` writes (the seed and the attention strategy are not persisted). */
const PERSISTED_KEYS = [
  'latentDim',
  'hiddenDim',
  'numLayers',
  'numHeads',
  'ffnDim',
  'maxSeqLen',
  'dropout',
  'spectralNorm',
  'layerNormEpsilon',
] as const;
/** Every config key (the persisted ones, the seed and the attention strategy). */
export const TRANSFORMER_CONFIG_KEYS: readonly string[] = [...PERSISTED_KEYS, 'seed', 'attentionImpl'];
const MASK_BIAS = -1e9;

/**
 * The official GANPO discriminator (arXiv 2601.22083, official code's `TransformerDiscriminator`),
 * weight-for-weight the same function as the PyTorch module:
 *
 *   x₀ = SN-Linear(D→h)(hidden[:, :T']) + pos[:T']            (T' = min(T, maxSeqLen))
 *   xₗ₊₁ = xₗ + Drop(MHA(LN₁ xₗ, key-padding mask))            (nn.TransformerEncoderLayer, norm_first)
 *   xₗ₊₁ ← xₗ₊₁ + Drop(W₂·Drop(GELU_erf(W₁·LN₂ xₗ₊₁)))
 *   pooled = Σ_t m·x / max(Σ_t m, 1)   (plain mean without a mask, like the official code)
 *   score = SN-Linear(h→1)(GELU(SN-Linear(h→h)(pooled)))
 *
 * Attention weights get dropout too, as in nn.MultiheadAttention. Spectral norm follows
 * `torch.nn.utils.spectral_norm` (one power iteration per training-mode call; eval uses stored u, v).
 * `stateDict()`/`loadStateDict()` use the official PyTorch names and layouts, so checkpoints move
 * both ways (see also `readSafetensors` / `writeSafetensors`).
 *
 * Initialisation: Xavier-uniform Linear weights (also under spectral norm: the code's intent),
 * zero biases, LayerNorm 1/0, positions N(0, 0.02²), normalised random u, v; deterministic under `seed`.
 *
 * @example
 * ```ts
 * const d = new TransformerDiscriminator({ latentDim: 2304, seed: 0 });
 * const scores = d.apply(hidden, { mask });             // [B]
 * ```
 */
export class TransformerDiscriminator extends BaseDiscriminator {
  readonly latentDim: number;
  readonly config: Required<Omit<TransformerDiscriminatorConfig, 'seed' | 'attentionImpl'>> & {
    seed?: number;
  };
  /** Attention strategy; may be changed at any time (it does not change the function). */
  attentionImpl: AttentionImpl;
  private readonly projectIn: LinearParams;
  private readonly posEmbedding: tf.Variable<tf.Rank.R2>;
  private readonly layers: EncoderLayerParams[] = [];
  private readonly head0: LinearParams;
  private readonly head2: LinearParams;

  /**
   * Builds the network and its variables (unique names per instance); see
   * {@link TransformerDiscriminatorConfig}. Every size is checked against
   * the discriminator limits (docs/security.md) before anything is allocated.
   */
  constructor(config: TransformerDiscriminatorConfig) {
    super('TransformerDiscriminator', config?.seed);
    if (config === null || typeof config !== 'object') {
      throw argumentError('INVALID_ARGUMENT', WHERE, 'config', 'a config object', String(config));
    }
    assertKnownKeys(WHERE, config, TRANSFORMER_CONFIG_KEYS);
    const latentDim = assertDim(WHERE, 'latentDim', config.latentDim);
    const hiddenDim = assertDim(WHERE, 'hiddenDim', config.hiddenDim ?? 512);
    const numLayers = assertNumber(WHERE, 'numLayers', config.numLayers ?? 2, {
      min: 0,
      max: DISCRIMINATOR_LIMITS.maxLayers,
      integer: true,
    });
    const numHeads = assertNumber(WHERE, 'numHeads', config.numHeads ?? 8, { min: 1, integer: true });
    if (hiddenDim % numHeads !== 0) {
      throw argumentError(
        'INVALID_OPTION',
        WHERE,
        'numHeads',
        `a divisor of hiddenDim (${hiddenDim})`,
        String(numHeads),
      );
    }
    const ffnDim = assertDim(WHERE, 'ffnDim', config.ffnDim ?? 4 * hiddenDim);
    const maxSeqLen = assertNumber(WHERE, 'maxSeqLen', config.maxSeqLen ?? 2048, {
      min: 1,
      max: DISCRIMINATOR_LIMITS.maxSeqLen,
      integer: true,
    });
    const dropout = assertNumber(WHERE, 'dropout', config.dropout ?? 0.1, { min: 0, lessThan: 1 });
    const layerNormEpsilon = assertNumber(WHERE, 'layerNormEpsilon', config.layerNormEpsilon ?? 1e-5, {
      greaterThan: 0,
    });
    const spectralNorm = config.spectralNorm ?? true;
    if (typeof spectralNorm !== 'boolean') {
      throw argumentError('INVALID_OPTION', WHERE, 'spectralNorm', 'a boolean', String(spectralNorm));
    }
    if (config.seed !== undefined) assertNumber(WHERE, 'seed', config.seed, { integer: true });
    this.attentionImpl = assertOneOf(WHERE, 'attentionImpl', config.attentionImpl ?? 'auto', [
      'auto',
      'batched',
      'per-head',
      'fused',
    ]);
    this.latentDim = latentDim;
    this.config = {
      latentDim,
      hiddenDim,
      numLayers,
      numHeads,
      ffnDim,
      maxSeqLen,
      dropout,
      spectralNorm,
      layerNormEpsilon,
      ...(config.seed !== undefined ? { seed: config.seed } : {}),
    };

    assertParameterCount(WHERE, transformerParameterCount(this.config));
    const next = seedStream(config.seed);
    try {
      const p = this.prefix;
      const h = hiddenDim;
      this.projectIn = new LinearParams(`${p}/project_in`, latentDim, h, spectralNorm, next);
      this.posEmbedding = ownedVariable(
        tf.randomNormal([maxSeqLen, h], 0, 0.02, 'float32', next()),
        true,
        `${p}/pos_embedding`,
      );
      for (let i = 0; i < numLayers; i++) {
        const n = `${p}/layers_${i}`;
        const v1 = (size: number, value: number, name: string): tf.Variable<tf.Rank.R1> =>
          ownedVariable(tf.fill([size], value), true, `${n}/${name}`) as tf.Variable<tf.Rank.R1>;
        const k = (fanIn: number, fanOut: number, name: string): tf.Variable<tf.Rank.R2> =>
          ownedVariable(xavierUniform(fanIn, fanOut, next()), true, `${n}/${name}`);
        this.layers.push({
          // nn.MultiheadAttention: xavier_uniform_ on in_proj_weight [3h, h], zero in_proj_bias.
          inProj: k(h, 3 * h, 'in_proj_kernel'),
          inProjBias: v1(3 * h, 0, 'in_proj_bias'),
          outProj: k(h, h, 'out_proj_kernel'),
          outProjBias: v1(h, 0, 'out_proj_bias'),
          linear1: k(h, ffnDim, 'linear1_kernel'),
          linear1Bias: v1(ffnDim, 0, 'linear1_bias'),
          linear2: k(ffnDim, h, 'linear2_kernel'),
          linear2Bias: v1(h, 0, 'linear2_bias'),
          norm1Weight: v1(h, 1, 'norm1_weight'),
          norm1Bias: v1(h, 0, 'norm1_bias'),
          norm2Weight: v1(h, 1, 'norm2_weight'),
          norm2Bias: v1(h, 0, 'norm2_bias'),
        });
      }
      this.head0 = new LinearParams(`${p}/head_0`, h, h, spectralNorm, next);
      this.head2 = new LinearParams(`${p}/head_2`, h, 1, spectralNorm, next);
    } catch (e) {
      this.failConstruction(e);
    }
  }

  /**
   * Scores a batch of latent sequences.
   *
   * @param hidden - [B, T, latentDim] float32; T > maxSeqLen is truncated to the first maxSeqLen positions.
   * @param options.mask - [B, T] 0/1 (1 = real token): key-padding mask in attention and masked mean
   *   pooling. Omitted: every position attends and pooling is the plain mean (official behaviour).
   * @param options.training - dropout on and one spectral-norm power iteration (updates u, v). Default false.
   * @returns scores [B] (caller disposes), differentiable w.r.t. `hidden` and {@link trainableVariables}.
   * @internal
   */
  protected forward(hidden: tf.Tensor3D, options: DiscriminatorApplyOptions): tf.Tensor1D {
    return tf.tidy(() => {
      const features = this.trunk(hidden, options);
      const score = this.head2.apply(features, options.training === true);
      return tf.reshape(score, [hidden.shape[0]]) as tf.Tensor1D;
    });
  }

  /** The last hidden layer GELU(head.0(pooled)), [B, h] (the input of the final Linear). @internal */
  protected featuresForward(hidden: tf.Tensor3D, options: DiscriminatorApplyOptions): tf.Tensor2D {
    return tf.tidy(() => this.trunk(hidden, options));
  }

  /** Everything but the final Linear, on checked inputs; call inside a tidy. */
  private trunk(hidden: tf.Tensor3D, options: DiscriminatorApplyOptions): tf.Tensor2D {
    const [B, T] = hidden.shape;
    const { mask } = options;
    const training = options.training === true;
    const { hiddenDim: h, maxSeqLen, numHeads, layerNormEpsilon: eps } = this.config;
    const rate = training ? this.config.dropout : 0;
    const drop = (x: tf.Tensor2D): tf.Tensor2D => applyDropout(x, rate);
    const t = Math.min(T, maxSeqLen);
    const x = T > maxSeqLen ? tf.slice(hidden, [0, 0, 0], [B, t, this.latentDim]) : hidden;
    const m =
      mask === undefined
        ? undefined
        : (tf.cast(T > maxSeqLen ? tf.slice(mask, [0, 0], [B, t]) : mask, 'float32') as tf.Tensor2D);
    const pos = t === maxSeqLen ? this.posEmbedding : tf.slice(this.posEmbedding, [0, 0], [t, h]);
    const projected = this.projectIn.apply(tf.reshape(x, [B * t, this.latentDim]), training, true);
    let z = tf.reshape(tf.add(tf.reshape(projected, [B, t, h]), pos), [B * t, h]) as tf.Tensor2D;
    const keyBias = (m ? tf.mul(tf.sub(1, m), MASK_BIAS) : tf.zeros([B, t])) as tf.Tensor2D;
    for (const L of this.layers) {
      const qkv = fastLinear(layerNorm(z, L.norm1Weight, L.norm1Bias, eps), L.inProj, L.inProjBias);
      const att = selfAttentionCore({
        qkv,
        batch: B,
        seqLen: t,
        numHeads,
        keyBias,
        hasMask: m !== undefined,
        dropout: rate,
        impl: this.attentionImpl,
      });
      z = tf.add(z, drop(fastLinear(att, L.outProj, L.outProjBias)));
      const ff = drop(
        geluErf(fastLinear(layerNorm(z, L.norm2Weight, L.norm2Bias, eps), L.linear1, L.linear1Bias)),
      );
      z = tf.add(z, drop(fastLinear(ff, L.linear2, L.linear2Bias)));
    }
    const pooled = maskedMeanPool(tf.reshape(z, [B, t, h]) as tf.Tensor3D, m);
    return geluErf(this.head0.apply(pooled, training));
  }

  /** Trainable weights (spectral-norm u, v excluded), in state-dict order. */
  get trainableVariables(): tf.Variable[] {
    this.assertLive(`${WHERE}.trainableVariables`);
    return [
      ...this.projectIn.trainable,
      this.posEmbedding,
      ...this.layers.flatMap((L) => [
        L.inProj,
        L.inProjBias,
        L.outProj,
        L.outProjBias,
        L.linear1,
        L.linear1Bias,
        L.linear2,
        L.linear2Bias,
        L.norm1Weight,
        L.norm1Bias,
        L.norm2Weight,
        L.norm2Bias,
      ]),
      ...this.head0.trainable,
      ...this.head2.trainable,
    ];
  }

  /**
   * The persistent state under the official PyTorch names and layouts (Linear weights [out, in],
   * `pos_embedding` [1, maxSeqLen, h], spectral norm as `weight_orig`/`weight_u`/`weight_v`), in the
   * official state-dict order: `stateDict`, `loadStateDict`, `save` and `load` all derive from it.
   * @internal
   */
  protected stateSpecs(): StateSpec[] {
    const { hiddenDim: h, maxSeqLen, ffnDim } = this.config;
    const pos = this.posEmbedding;
    const specs: StateSpec[] = [
      layoutSpec(
        'pos_embedding',
        [1, maxSeqLen, h],
        pos,
        (t) => tf.reshape(t, [1, maxSeqLen, h]),
        (t) => tf.reshape(t, [maxSeqLen, h]),
      ),
    ];
    this.projectIn.stateSpecs('project_in', specs);
    this.layers.forEach((L, i) => {
      const pre = `transformer.layers.${i}`;
      specs.push(
        transposedSpec(`${pre}.self_attn.in_proj_weight`, L.inProj, 3 * h, h),
        vectorSpec(`${pre}.self_attn.in_proj_bias`, L.inProjBias),
        transposedSpec(`${pre}.self_attn.out_proj.weight`, L.outProj, h, h),
        vectorSpec(`${pre}.self_attn.out_proj.bias`, L.outProjBias),
        transposedSpec(`${pre}.linear1.weight`, L.linear1, ffnDim, h),
        vectorSpec(`${pre}.linear1.bias`, L.linear1Bias),
        transposedSpec(`${pre}.linear2.weight`, L.linear2, h, ffnDim),
        vectorSpec(`${pre}.linear2.bias`, L.linear2Bias),
        vectorSpec(`${pre}.norm1.weight`, L.norm1Weight),
        vectorSpec(`${pre}.norm1.bias`, L.norm1Bias),
        vectorSpec(`${pre}.norm2.weight`, L.norm2Weight),
        vectorSpec(`${pre}.norm2.bias`, L.norm2Bias),
      );
    });
    this.head0.stateSpecs('head.0', specs);
    this.head2.stateSpecs('head.2', specs);
    return specs;
  }

  /** @internal */
  protected ownedVariables(): tf.Variable[] {
    return [
      ...this.projectIn.all,
      this.posEmbedding,
      ...this.layers.flatMap((L) => Object.values(L) as tf.Variable[]),
      ...this.head0.all,
      ...this.head2.all,
    ];
  }

  /** @internal */
  protected construct(): TransformerDiscriminator {
    return new TransformerDiscriminator({ ...this.config, attentionImpl: this.attentionImpl });
  }

  /** @internal */
  protected persistedConfig(): Record<string, unknown> {
    const { seed: _seed, ...config } = this.config;
    return config;
  }

  /**
   * Loads a discriminator written by `save`. The source is treated as untrusted: the config may hold
   * only the saved keys and must pass the size limits (the discriminator limits (docs/security.md)) before anything
   * is allocated; the weight specs must be float32 with sizes adding up to exactly the bytes present;
   * at validation level `'full'` NaN/Infinity weights are refused. Any refusal throws a
   * `GanpoError` (`INVALID_FORMAT`, `OUT_OF_RANGE`, `STATE_DICT_MISMATCH`, `NON_FINITE`) and leaves
   * nothing behind.
   */
  static async load(
    handlerOrUrl: HandlerOrUrl,
    overrides: Pick<TransformerDiscriminatorConfig, 'attentionImpl'> = {},
  ): Promise<TransformerDiscriminator> {
    const attentionImpl = overrides?.attentionImpl;
    return loadDiscriminator(
      'TransformerDiscriminator',
      handlerOrUrl,
      PERSISTED_KEYS,
      (config) =>
        new TransformerDiscriminator({
          ...(config as unknown as TransformerDiscriminatorConfig),
          ...(attentionImpl === undefined ? {} : { attentionImpl }),
        }),
    );
  }
}
brandClass(TransformerDiscriminator, 'TransformerDiscriminator');

/** Persistent values of a transformer discriminator (weights, biases, positions, spectral-norm u and v). */
function transformerParameterCount(c: {
  latentDim: number;
  hiddenDim: number;
  numLayers: number;
  ffnDim: number;
  maxSeqLen: number;
  spectralNorm: boolean;
}): number {
  const h = c.hiddenDim;
  const layer = 3 * h * h + 3 * h + h * h + h + 2 * h * c.ffnDim + c.ffnDim + h + 4 * h;
  return (
    linearParameterCount(c.latentDim, h, c.spectralNorm) +
    c.maxSeqLen * h +
    c.numLayers * layer +
    linearParameterCount(h, h, c.spectralNorm) +
    linearParameterCount(h, 1, c.spectralNorm)
  );
}
