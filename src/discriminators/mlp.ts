import * as tf from '@tensorflow/tfjs-core';
import { argumentError } from '../core/errors';
import { brandClass } from '../core/instance';
import { assertKnownKeys } from '../core/options';
import { assertNumber } from '../core/validate';
import { geluErf } from '../ops/gelu';
import { BaseDiscriminator, loadDiscriminator } from './base';
import { LinearParams, maskedMeanPool, type StateSpec, seedStream } from './layers';
import { assertDim, assertParameterCount, DISCRIMINATOR_LIMITS, linearParameterCount } from './limits';
import type { HandlerOrUrl } from './persist';
import type { DiscriminatorApplyOptions } from './types';

/** Configuration of {@link MLPDiscriminator}. */
export interface MLPDiscriminatorConfig {
  /** Latent size D of the hidden states [B,T,D]. Required; at most `DISCRIMINATOR_LIMITS.maxDim`. */
  latentDim: number;
  /**
   * Hidden layer widths. Default [256, 256] (a small critic; ganpo's choice, no official
   * counterpart). At most `DISCRIMINATOR_LIMITS.maxLayers` layers of `maxDim` each, and at most
   * `maxParameters` values in all.
   */
  hiddenDims?: number[];
  /** Spectral norm on every Linear. Default true (as the official transformer discriminator's SN layers). */
  spectralNorm?: boolean;
  /** Seed for deterministic initialisation; omitted = random. */
  seed?: number;
}

const WHERE = 'MLPDiscriminator';

/** The config keys `save` writes (the seed is not persisted). */
const PERSISTED_KEYS = ['latentDim', 'hiddenDims', 'spectralNorm'] as const;
/** Every config key (the persisted ones and the seed). */
export const MLP_CONFIG_KEYS: readonly string[] = [...PERSISTED_KEYS, 'seed'];

/**
 * A light discriminator for small models and browsers: masked mean-pool over positions, then a
 * spectral-normalised MLP,
 *
 *   pooled = Σ_t m·x / max(Σ_t m, 1)   (plain mean without a mask)
 *   score = SN-Linear(→1)(GELU(SN-Linear(… GELU(SN-Linear(D→h₁)(pooled)) …)))
 *
 * Same {@link Discriminator} interface as {@link TransformerDiscriminator}; no dropout (training mode only
 * runs the spectral-norm power iteration). PyTorch counterpart: `MLPDiscriminator` in
 * tools/reference/official_discriminator.py (state-dict keys `net.{2i}.weight_orig|weight_u|weight_v|bias`).
 * Init: Xavier-uniform weights, zero biases, normalised random u, v.
 */
export class MLPDiscriminator extends BaseDiscriminator {
  readonly latentDim: number;
  readonly config: Required<Omit<MLPDiscriminatorConfig, 'seed'>> & { seed?: number };
  private readonly linears: LinearParams[] = [];

  /**
   * Builds the network and its variables (unique names per instance); see
   * {@link MLPDiscriminatorConfig}. Every size is checked against the discriminator limits (docs/security.md)
   * before anything is allocated.
   */
  constructor(config: MLPDiscriminatorConfig) {
    super('MLPDiscriminator', config?.seed);
    if (config === null || typeof config !== 'object') {
      throw argumentError('INVALID_ARGUMENT', WHERE, 'config', 'a config object', String(config));
    }
    assertKnownKeys(WHERE, config, MLP_CONFIG_KEYS);
    const latentDim = assertDim(WHERE, 'latentDim', config.latentDim);
    const hiddenDims = config.hiddenDims ?? [256, 256];
    if (!Array.isArray(hiddenDims) || hiddenDims.length > DISCRIMINATOR_LIMITS.maxLayers) {
      throw argumentError(
        'INVALID_OPTION',
        WHERE,
        'hiddenDims',
        `an array of at most ${DISCRIMINATOR_LIMITS.maxLayers} positive integers`,
        Array.isArray(hiddenDims) ? `${hiddenDims.length} entries` : typeof hiddenDims,
      );
    }
    hiddenDims.forEach((d, i) => {
      assertDim(WHERE, `hiddenDims[${i}]`, d);
    });
    const spectralNorm = config.spectralNorm ?? true;
    if (typeof spectralNorm !== 'boolean') {
      throw argumentError('INVALID_OPTION', WHERE, 'spectralNorm', 'a boolean', String(spectralNorm));
    }
    if (config.seed !== undefined) assertNumber(WHERE, 'seed', config.seed, { integer: true });
    this.latentDim = latentDim;
    this.config = {
      latentDim,
      hiddenDims: [...hiddenDims],
      spectralNorm,
      ...(config.seed !== undefined ? { seed: config.seed } : {}),
    };
    const dims = [latentDim, ...hiddenDims, 1];
    let count = 0;
    for (let i = 0; i + 1 < dims.length; i++) {
      count += linearParameterCount(dims[i] as number, dims[i + 1] as number, spectralNorm);
    }
    assertParameterCount(WHERE, count);
    const next = seedStream(config.seed);
    try {
      for (let i = 0; i + 1 < dims.length; i++) {
        this.linears.push(
          new LinearParams(
            `${this.prefix}/net_${2 * i}`,
            dims[i] as number,
            dims[i + 1] as number,
            spectralNorm,
            next,
          ),
        );
      }
    } catch (e) {
      this.failConstruction(e);
    }
  }

  /**
   * @param hidden - [B, T, latentDim] float32.
   * @param options.mask - [B, T] 0/1 pooling mask; omitted = plain mean.
   * @param options.training - one spectral-norm power iteration per layer (updates u, v). Default false.
   * @returns scores [B] (caller disposes).
   * @internal
   */
  protected forward(hidden: tf.Tensor3D, options: DiscriminatorApplyOptions): tf.Tensor1D {
    return tf.tidy(() => {
      const { z, last } = this.trunk(hidden, options);
      // With no hidden layer the last layer is also the first (its input is the pooled data).
      const first = this.linears.length === 1;
      return tf.reshape(last.apply(z as tf.Tensor2D, options.training === true, first), [
        hidden.shape[0],
      ]) as tf.Tensor1D;
    });
  }

  /** The last hidden layer (the input of the final Linear), [B, hᵢ]. @internal */
  protected featuresForward(hidden: tf.Tensor3D, options: DiscriminatorApplyOptions): tf.Tensor2D {
    return tf.tidy(() => this.trunk(hidden, options).z as tf.Tensor2D);
  }

  /** Pooling and every layer but the last, on checked inputs; call inside a tidy. */
  private trunk(
    hidden: tf.Tensor3D,
    options: DiscriminatorApplyOptions,
  ): { z: tf.Tensor; last: LinearParams } {
    const { mask } = options;
    const training = options.training === true;
    const m = mask === undefined ? undefined : (tf.cast(mask, 'float32') as tf.Tensor2D);
    let z: tf.Tensor = maskedMeanPool(hidden, m);
    const n = this.linears.length;
    // The first layer's input is the pooled data (see withConstantInputs).
    this.linears.slice(0, n - 1).forEach((L, i) => {
      z = geluErf(L.apply(z as tf.Tensor2D, training, i === 0));
    });
    return { z, last: this.linears[n - 1] as LinearParams };
  }

  /** Trainable weights (spectral-norm u, v excluded). */
  get trainableVariables(): tf.Variable[] {
    this.assertLive(`${WHERE}.trainableVariables`);
    return this.linears.flatMap((L) => L.trainable);
  }

  /** State-dict entries under PyTorch names `net.{2i}.*`. @internal */
  protected stateSpecs(): StateSpec[] {
    const specs: StateSpec[] = [];
    this.linears.forEach((L, i) => {
      L.stateSpecs(`net.${2 * i}`, specs);
    });
    return specs;
  }

  /** @internal */
  protected ownedVariables(): tf.Variable[] {
    return this.linears.flatMap((L) => L.all);
  }

  /** @internal */
  protected construct(): MLPDiscriminator {
    return new MLPDiscriminator({ ...this.config, hiddenDims: [...this.config.hiddenDims] });
  }

  /** @internal */
  protected persistedConfig(): Record<string, unknown> {
    const { seed: _seed, ...config } = this.config;
    return config;
  }

  /** Loads a discriminator written by `save` (an untrusted source: see `TransformerDiscriminator.load`). */
  static async load(handlerOrUrl: HandlerOrUrl): Promise<MLPDiscriminator> {
    return loadDiscriminator(
      'MLPDiscriminator',
      handlerOrUrl,
      PERSISTED_KEYS,
      (config) => new MLPDiscriminator(config as unknown as MLPDiscriminatorConfig),
    );
  }
}
brandClass(MLPDiscriminator, 'MLPDiscriminator');
