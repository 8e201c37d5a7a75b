import * as tf from '@tensorflow/tfjs-core';
import { argumentError, GanpoError } from '../core/errors';
import { assertNumber } from '../core/validate';
import { geluErf } from '../ops/gelu';
import {
  LinearParams,
  maskedMeanPool,
  type StateSpec,
  seedStream,
  uniquePrefix,
  validateApplyInputs,
} from './layers';
import { type HandlerOrUrl, loadArtifacts, saveArtifacts } from './persist';
import { loadStateInto } from './state-dict';
import type { Discriminator, DiscriminatorApplyOptions } from './types';

/** Configuration of {@link MLPDiscriminator}. */
export interface MLPDiscriminatorConfig {
  /** Latent size D of the hidden states [B,T,D]. Required. */
  inputDim: number;
  /** Hidden layer widths. Default [256, 256] (a small critic; ganpo's choice, no official counterpart). */
  hiddenDims?: number[];
  /** Spectral norm on every Linear. Default true (as the official transformer discriminator's SN layers). */
  spectralNorm?: boolean;
  /** Seed for deterministic initialisation; omitted = random. */
  seed?: number;
}

const WHERE = 'MLPDiscriminator';

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
export class MLPDiscriminator implements Discriminator {
  readonly inputDim: number;
  readonly config: Required<Omit<MLPDiscriminatorConfig, 'seed'>> & { seed?: number };
  private readonly linears: LinearParams[] = [];
  private readonly prefix: string;
  private disposed = false;

  /** Builds the network and its variables (unique names per instance); see {@link MLPDiscriminatorConfig}. */
  constructor(config: MLPDiscriminatorConfig) {
    if (config === null || typeof config !== 'object') {
      throw argumentError('INVALID_ARGUMENT', WHERE, 'config', 'a config object', String(config));
    }
    const inputDim = assertNumber(WHERE, 'inputDim', config.inputDim, { min: 1, integer: true });
    const hiddenDims = config.hiddenDims ?? [256, 256];
    if (!Array.isArray(hiddenDims)) {
      throw argumentError(
        'INVALID_OPTION',
        WHERE,
        'hiddenDims',
        'an array of positive integers',
        typeof hiddenDims,
      );
    }
    hiddenDims.forEach((d, i) => {
      assertNumber(WHERE, `hiddenDims[${i}]`, d, { min: 1, integer: true });
    });
    const spectralNorm = config.spectralNorm ?? true;
    if (typeof spectralNorm !== 'boolean') {
      throw argumentError('INVALID_OPTION', WHERE, 'spectralNorm', 'a boolean', String(spectralNorm));
    }
    if (config.seed !== undefined) assertNumber(WHERE, 'seed', config.seed, { integer: true });
    this.inputDim = inputDim;
    this.config = {
      inputDim,
      hiddenDims: [...hiddenDims],
      spectralNorm,
      ...(config.seed !== undefined ? { seed: config.seed } : {}),
    };
    const next = seedStream(config.seed);
    this.prefix = uniquePrefix('MLPDiscriminator');
    const dims = [inputDim, ...hiddenDims, 1];
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
  }

  /** The tfjs variable-name prefix of this instance (unique per instance). */
  get name(): string {
    return this.prefix;
  }

  /**
   * @param hidden - [B, T, inputDim] float32.
   * @param options.mask - [B, T] 0/1 pooling mask; omitted = plain mean.
   * @param options.training - one spectral-norm power iteration per layer (updates u, v). Default false.
   * @returns scores [B] (caller disposes).
   */
  apply(hidden: tf.Tensor3D, options: DiscriminatorApplyOptions = {}): tf.Tensor1D {
    return tf.tidy(() => {
      const { z, last } = this.trunk(`${WHERE}.apply`, hidden, options);
      return tf.reshape(last.apply(z as tf.Tensor2D, options.training === true), [
        hidden.shape[0],
      ]) as tf.Tensor1D;
    });
  }

  /**
   * The critic's last hidden layer (the input of its final Linear), [B, hᵢ]: what
   * {@link Discriminator.features} returns. Same options and validation as {@link apply}.
   */
  features(hidden: tf.Tensor3D, options: DiscriminatorApplyOptions = {}): tf.Tensor2D {
    return tf.tidy(() => this.trunk(`${WHERE}.features`, hidden, options).z as tf.Tensor2D);
  }

  /** Pooling and every layer but the last; call inside a tidy. */
  private trunk(
    where: string,
    hidden: tf.Tensor3D,
    options: DiscriminatorApplyOptions,
  ): { z: tf.Tensor; last: LinearParams } {
    this.assertLive(where);
    validateApplyInputs(where, hidden, this.inputDim, options.mask);
    const { mask } = options;
    const training = options.training === true;
    const m = mask === undefined ? undefined : (tf.cast(mask, 'float32') as tf.Tensor2D);
    let z: tf.Tensor = maskedMeanPool(hidden, m);
    const n = this.linears.length;
    this.linears.slice(0, n - 1).forEach((L) => {
      z = geluErf(L.apply(z as tf.Tensor2D, training));
    });
    return { z, last: this.linears[n - 1] as LinearParams };
  }

  /** Trainable weights (spectral-norm u, v excluded). */
  get trainableVariables(): tf.Variable[] {
    this.assertLive(`${WHERE}.trainableVariables`);
    return this.linears.flatMap((L) => L.trainable);
  }

  /** Copies of all persistent state under PyTorch names `net.{2i}.*` (caller disposes). */
  stateDict(): Record<string, tf.Tensor> {
    this.assertLive(`${WHERE}.stateDict`);
    const out: Record<string, tf.Tensor> = {};
    this.linears.forEach((L, i) => {
      L.stateEntries(`net.${2 * i}`, out);
    });
    return out;
  }

  /** Loads (copies) a state dict; strict by default (see TransformerDiscriminator.loadStateDict). */
  loadStateDict(state: Record<string, tf.Tensor>, options: { strict?: boolean } = {}): void {
    const where = `${WHERE}.loadStateDict`;
    this.assertLive(where);
    const specs: StateSpec[] = [];
    this.linears.forEach((L, i) => {
      L.stateSpecs(`net.${2 * i}`, specs);
    });
    loadStateInto(where, specs, state, options.strict ?? true);
  }

  /** Saves config + state dict through any `tf.io.IOHandler` or registered URL. */
  async save(handlerOrUrl: HandlerOrUrl): Promise<tf.io.SaveResult> {
    this.assertLive(`${WHERE}.save`);
    const { seed: _seed, ...config } = this.config;
    return saveArtifacts(`${WHERE}.save`, handlerOrUrl, 'MLPDiscriminator', config, this.stateDict());
  }

  /** Loads a discriminator written by {@link save}. */
  static async load(handlerOrUrl: HandlerOrUrl): Promise<MLPDiscriminator> {
    const { config, state } = await loadArtifacts(`${WHERE}.load`, handlerOrUrl, 'MLPDiscriminator');
    let d: MLPDiscriminator | undefined;
    try {
      d = new MLPDiscriminator(config as unknown as MLPDiscriminatorConfig);
      d.loadStateDict(state);
      return d;
    } catch (e) {
      d?.dispose();
      throw e;
    } finally {
      tf.dispose(Object.values(state));
    }
  }

  /** Frees every variable. Further use throws `GanpoError('DISPOSED')`. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const L of this.linears) for (const v of L.all) v.dispose();
  }

  /** True once {@link MLPDiscriminator.dispose} has run. */
  get isDisposed(): boolean {
    return this.disposed;
  }

  private assertLive(where: string): void {
    if (this.disposed) {
      throw new GanpoError('DISPOSED', `${where}: the discriminator was disposed`, {
        argument: 'this',
        expected: 'a live discriminator',
        received: 'a disposed one',
      });
    }
  }
}
