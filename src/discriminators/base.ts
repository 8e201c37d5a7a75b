import * as tf from '@tensorflow/tfjs-core';
import { GanpoError } from '../core/errors';
import { disposeVariablesUnder, type StateSpec, uniquePrefix } from './layers';
import { type HandlerOrUrl, loadArtifacts, saveArtifacts } from './persist';
import { loadStateInto, readState, strictOption } from './state-dict';
import type { Discriminator, DiscriminatorApplyOptions } from './types';

/** The discriminator classes that can be saved and loaded. */
export type DiscriminatorClassName = 'MLPDiscriminator' | 'TransformerDiscriminator';

/**
 * What every discriminator shares: a unique variable-name prefix, liveness (`dispose`,
 * `isDisposed`, `DISPOSED` errors), and persistence. A subclass lists its state once, as
 * `StateSpec`s in PyTorch names; `stateDict`, `loadStateDict`, `save` and `load` all derive
 * from that list.
 */
export abstract class BaseDiscriminator implements Discriminator {
  abstract readonly inputDim: number;
  /** The tfjs variable-name prefix of this instance (unique among live variables). */
  protected readonly prefix: string;
  private disposed = false;

  /** Reserves a unique variable-name prefix for `className`; allocates nothing. */
  protected constructor(protected readonly className: DiscriminatorClassName) {
    this.prefix = uniquePrefix(className);
  }

  /** The tfjs variable-name prefix of this instance (unique per instance). */
  get name(): string {
    return this.prefix;
  }

  abstract apply(hidden: tf.Tensor3D, options?: DiscriminatorApplyOptions): tf.Tensor1D;
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

  /** Saves config + state dict through any `tf.io.IOHandler` or registered URL (`ganpo/node` adds `file://`). */
  async save(handlerOrUrl: HandlerOrUrl): Promise<tf.io.SaveResult> {
    const where = `${this.className}.save`;
    this.assertLive(where);
    return saveArtifacts(where, handlerOrUrl, this.className, this.persistedConfig(), this.stateDict());
  }

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
