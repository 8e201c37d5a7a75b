import * as tf from '@tensorflow/tfjs-core';
import { argumentError, GanpoError } from '../core/errors';
import { CounterStream, withUniformSource } from '../ops/dropout';
import { disposeVariablesUnder, type StateSpec, uniquePrefix, validateApplyInputs } from './layers';
import { type HandlerOrUrl, loadArtifacts, saveArtifacts } from './persist';
import { loadStateInto, prepareStateInto, readState, strictOption } from './state-dict';
import type { Discriminator, DiscriminatorApplyOptions } from './types';

/** The discriminator classes that can be saved and loaded. @inline */
export type DiscriminatorClassName = 'MLPDiscriminator' | 'TransformerDiscriminator';

/**
 * What every discriminator shares: a unique variable-name prefix, liveness (`dispose`,
 * `isDisposed`, `DISPOSED` errors), and persistence. A subclass lists its state once, as
 * `StateSpec`s in PyTorch names; `stateDict`, `loadStateDict`, `save` and `load` all derive
 * from that list.
 */
export abstract class BaseDiscriminator implements Discriminator {
  abstract readonly latentDim: number;
  /** The tfjs variable-name prefix of this instance (unique among live variables). */
  protected readonly prefix: string;
  private disposed = false;
  /** Where training-mode dropout draws its masks (see {@link dropoutState}). */
  private readonly dropoutStream: CounterStream;

  /**
   * Reserves a unique variable-name prefix for `className`; allocates nothing. The dropout stream is
   * seeded from `seed` when given (a seeded discriminator drops the same units on every run), else
   * randomly.
   */
  protected constructor(
    protected readonly className: DiscriminatorClassName,
    seed?: number,
  ) {
    this.prefix = uniquePrefix(className);
    const dropoutSeed =
      typeof seed === 'number' && Number.isFinite(seed)
        ? Math.imul((seed | 0) ^ 0x5bd1e995, 0x27d4eb2d) >>> 0
        : Math.floor(Math.random() * 4294967296);
    this.dropoutStream = new CounterStream(dropoutSeed);
  }

  /**
   * Scores a batch of latent sequences. Dropout masks (training mode) are drawn from this
   * discriminator's own counter-based stream, never from `Math.random`, so that restoring
   * {@link dropoutState} makes a resumed run draw exactly the masks an uninterrupted one would.
   *
   * @param hidden - [B, T, latentDim] float32 (the transformer truncates T > maxSeqLen).
   * @param options.mask - [B, T] 0/1 (1 = real token): key-padding mask and masked mean pooling.
   *   Omitted: every position counts and pooling is the plain mean (official behaviour).
   * @param options.training - dropout on and one spectral-norm power iteration (updates u, v).
   *   Default false.
   * @returns scores [B] (caller disposes), differentiable w.r.t. `hidden` and the trainable variables.
   */
  apply(hidden: tf.Tensor3D, options: DiscriminatorApplyOptions = {}): tf.Tensor1D {
    this.checkInputs(`${this.className}.apply`, hidden, options ?? {});
    return this.applyChecked(hidden, options ?? {});
  }

  /**
   * The critic's last hidden layer [B, F] (the input of its final Linear): what
   * `Discriminator.features` returns, used by the paired feature-matching generator. Same options
   * and checks as {@link apply}.
   */
  features(hidden: tf.Tensor3D, options: DiscriminatorApplyOptions = {}): tf.Tensor2D {
    this.checkInputs(`${this.className}.features`, hidden, options ?? {});
    return this.featuresChecked(hidden, options ?? {});
  }

  /**
   * {@link apply} on inputs the caller has checked (the regularizer checks its latents once, at
   * its own boundary). @internal
   */
  applyChecked(hidden: tf.Tensor3D, options: DiscriminatorApplyOptions): tf.Tensor1D {
    this.assertLive(`${this.className}.apply`);
    return withUniformSource(this.dropoutStream.next, () => this.forward(hidden, options));
  }

  /** {@link features} on inputs the caller has checked. @internal */
  featuresChecked(hidden: tf.Tensor3D, options: DiscriminatorApplyOptions): tf.Tensor2D {
    this.assertLive(`${this.className}.features`);
    return this.featuresForward(hidden, options);
  }

  /** The input contract of {@link apply} and {@link features} (see `validateApplyInputs`). */
  private checkInputs(where: string, hidden: tf.Tensor3D, options: DiscriminatorApplyOptions): void {
    this.assertLive(where);
    validateApplyInputs(where, hidden, this.latentDim, options.mask);
  }

  /** The forward computation behind {@link apply}, on checked inputs. @internal */
  protected abstract forward(hidden: tf.Tensor3D, options: DiscriminatorApplyOptions): tf.Tensor1D;
  /** The forward computation behind {@link features}, on checked inputs. @internal */
  protected abstract featuresForward(hidden: tf.Tensor3D, options: DiscriminatorApplyOptions): tf.Tensor2D;

  /**
   * The dropout stream's position: `seed` and `counter` (draws so far). Part of
   * `GanpoRegularizer.getState`, so that resume is exact with dropout on.
   */
  get dropoutState(): { seed: number; counter: number } {
    return { seed: this.dropoutStream.seed, counter: this.dropoutStream.counter };
  }

  /**
   * Moves the dropout stream to a saved {@link dropoutState}.
   * @throws GanpoError('INVALID_FORMAT') unless `seed` is a uint32 and `counter` a safe integer >= 0.
   */
  set dropoutState(state: { seed: number; counter: number }) {
    checkDropoutState(`${this.className}.dropoutState`, 'dropoutState', state);
    this.dropoutStream.seed = state.seed;
    this.dropoutStream.counter = state.counter;
  }

  /** The tfjs variable-name prefix of this instance (unique per instance). */
  get name(): string {
    return this.prefix;
  }

  abstract get trainableVariables(): tf.Variable[];

  /** The persistent state in PyTorch names and layouts, in state-dict order. @internal */
  protected abstract stateSpecs(): StateSpec[];
  /** Every variable this instance owns. @internal */
  protected abstract ownedVariables(): tf.Variable[];
  /** The config written by {@link save} (what `load` passes back to the constructor). @internal */
  protected abstract persistedConfig(): Record<string, unknown>;

  /**
   * Frees whatever a failing constructor already allocated, then rethrows: a constructor that
   * throws half-way (an allocation error) leaves no variable behind. @internal
   */
  protected failConstruction(e: unknown): never {
    disposeVariablesUnder(this.prefix);
    this.disposed = true;
    throw e;
  }

  /**
   * The state-dict entries of the trainable variables, in `trainableVariables` order: each
   * parameter's PyTorch name and layout transforms, through which optimizer moments move between
   * ganpo and `torch.optim` states. @internal
   */
  parameterSpecs(): StateSpec[] {
    this.assertLive(`${this.className}.parameterSpecs`);
    const specs = this.stateSpecs();
    return this.trainableVariables.map((v) => {
      const spec = specs.find((s) => s.variable === v);
      if (spec === undefined) {
        throw new GanpoError(
          'INVALID_STATE',
          `${this.className}: trainable variable ${v.name} has no state-dict entry`,
        );
      }
      return spec;
    });
  }

  /** Copies of all persistent state under PyTorch state-dict names (caller disposes). */
  stateDict(): Record<string, tf.Tensor> {
    this.assertLive(`${this.className}.stateDict`);
    return readState(this.stateSpecs());
  }

  /**
   * Loads (copies) a PyTorch-named state dict, e.g. from `readSafetensors` of a checkpoint saved by
   * PyTorch. Strict by default: a missing or unexpected key throws `GanpoError('STATE_DICT_MISMATCH')`
   * naming it; a mis-shaped key always throws; at validation level `'full'` a NaN/Infinity value
   * throws `NON_FINITE`. Nothing is changed and no tensor is created when anything is wrong. The
   * given tensors stay the caller's.
   */
  loadStateDict(state: Record<string, tf.Tensor>, options: { strict?: boolean } = {}): void {
    const where = `${this.className}.loadStateDict`;
    this.assertLive(where);
    loadStateInto(where, this.stateSpecs(), state, strictOption(where, options));
  }

  /**
   * Every check of {@link loadStateDict}, changing nothing; `commit` loads the state (it must run
   * while the given tensors are alive), `release` frees nothing here (the tensors stay the
   * caller's). Lets a caller validate all parts of a checkpoint before applying any of them.
   * @internal
   */
  prepareLoadStateDict(
    state: Record<string, tf.Tensor>,
    options: { strict?: boolean } = {},
  ): { commit: () => void; release: () => void } {
    const where = `${this.className}.loadStateDict`;
    this.assertLive(where);
    const commit = prepareStateInto(where, this.stateSpecs(), state, strictOption(where, options));
    return { commit, release: () => {} };
  }

  /**
   * What a training forward changes besides the trainable weights, saved so that a refused update
   * can undo it: the dropout stream's position and the spectral-norm vectors u, v (their values are
   * shared, not copied, until the forward replaces them). `restore` puts them back; `release` frees
   * the saved values (call it once, after `restore` or instead of it). @internal
   */
  snapshotTrainingState(): { restore: () => void; release: () => void } {
    const dropout = this.dropoutState;
    const trainable = new Set(this.trainableVariables);
    const saved = this.ownedVariables()
      .filter((v) => !trainable.has(v))
      .map((v) => ({ v, value: tf.keep(tf.clone(v)) }));
    return {
      restore: () => {
        for (const { v, value } of saved) v.assign(value);
        this.dropoutState = dropout;
      },
      release: () => {
        for (const { value } of saved) value.dispose();
      },
    };
  }

  /** Saves config + state dict through any `tf.io.IOHandler` or registered URL (`ganpo/node` adds `file://`). */
  async save(handlerOrUrl: HandlerOrUrl): Promise<tf.io.SaveResult> {
    const where = `${this.className}.save`;
    this.assertLive(where);
    return saveArtifacts(where, handlerOrUrl, this.className, this.persistedConfig(), this.stateDict());
  }

  /**
   * A new discriminator of this class and configuration holding a copy of this one's state (its
   * own variables, its own dropout stream). @internal
   */
  twin(): BaseDiscriminator {
    this.assertLive(`${this.className}.twin`);
    const copy = this.construct();
    copy.averageFrom(this, 0);
    return copy;
  }

  /**
   * Polyak averaging from a discriminator of the same class and configuration: every trainable
   * weight θ ← decay·θ + (1 − decay)·θ_source; every other persistent variable (the spectral-norm
   * vectors u, v) is copied, so that eval-mode spectral normalisation uses the source's current
   * estimate of the top singular vectors. `decay` 0 copies. @internal
   */
  averageFrom(source: BaseDiscriminator, decay: number): void {
    this.assertLive(`${this.className}.averageFrom`);
    const mine = this.ownedVariables();
    const theirs = source.ownedVariables();
    const trainable = new Set(this.trainableVariables);
    tf.tidy(() => {
      mine.forEach((v, i) => {
        const s = theirs[i] as tf.Variable;
        v.assign(decay > 0 && trainable.has(v) ? tf.add(tf.mul(v, decay), tf.mul(s, 1 - decay)) : s);
      });
    });
  }

  /** A fresh instance of this class with this configuration (weights to be overwritten). @internal */
  protected abstract construct(): BaseDiscriminator;

  /** Frees every variable. Further use throws `GanpoError('DISPOSED')`. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const v of this.ownedVariables()) v.dispose();
  }

  /** True once `dispose` has run. */
  get isDisposed(): boolean {
    return this.disposed;
  }

  /** Throws `GanpoError('DISPOSED')` once disposed. */
  protected assertLive(where: string): void {
    if (this.disposed) {
      throw new GanpoError('DISPOSED', `${where}: the discriminator was disposed`, {
        argument: 'this',
        expected: 'a live discriminator',
        received: 'a disposed one',
      });
    }
  }
}

/**
 * Loads a discriminator written by `save`: reads and checks the artifacts (see `loadArtifacts`),
 * builds the discriminator from the saved config (whose size limits are checked before anything is
 * allocated), only then decodes and loads the weights, and on any failure disposes everything it made.
 */
export async function loadDiscriminator<D extends BaseDiscriminator>(
  className: DiscriminatorClassName,
  handlerOrUrl: HandlerOrUrl,
  configKeys: readonly string[],
  build: (config: Record<string, unknown>) => D,
): Promise<D> {
  const where = `${className}.load`;
  const { config, decodeState } = await loadArtifacts(where, handlerOrUrl, className, configKeys);
  const d = build(config);
  let state: Record<string, tf.Tensor> = {};
  try {
    state = decodeState();
    d.loadStateDict(state);
    return d;
  } catch (e) {
    d.dispose();
    throw e;
  } finally {
    tf.dispose(Object.values(state));
  }
}

/** Checks a saved dropout-stream position: `seed` a uint32, `counter` a safe integer >= 0. */
export function checkDropoutState(where: string, argument: string, state: unknown): void {
  const s = state as { seed?: unknown; counter?: unknown } | null;
  const ok =
    s !== null &&
    typeof s === 'object' &&
    Number.isInteger(s.seed) &&
    (s.seed as number) >= 0 &&
    (s.seed as number) < 4294967296 &&
    Number.isSafeInteger(s.counter) &&
    (s.counter as number) >= 0;
  if (!ok) {
    throw argumentError(
      'INVALID_FORMAT',
      where,
      argument,
      '{ seed: uint32, counter: integer >= 0 }',
      JSON.stringify(state)?.slice(0, 80) ?? String(state),
    );
  }
}
