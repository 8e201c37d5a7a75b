import { argumentError } from '../core/errors';
import { assertKnownKeys } from '../core/options';
import { assertArgs, assertNumber } from '../core/validate';
import { mixSeed, mulberry32, permutation } from './random';

/** Options of {@link BatchSampler}. */
export interface BatchSamplerArgs {
  /** Number of examples N ≥ 1; batches hold indices into 0..N-1. */
  datasetSize: number;
  /** Examples per batch, ≥ 1. */
  batchSize: number;
  /** Seed of the data order. Default 0. Same seed ⇒ same order on every machine and backend. */
  seed?: number;
  /** Draw a fresh permutation each epoch. Default true (PyTorch `DataLoader(shuffle=True)`, as TRL trains). */
  shuffle?: boolean;
  /**
   * Drop the last incomplete batch of each epoch. Default false (PyTorch `DataLoader` and the HF
   * Trainer's `dataloader_drop_last` default): the last batch of an epoch may be smaller.
   */
  dropLast?: boolean;
}

/**
 * The full, JSON-serialisable state of a {@link BatchSampler}: the options plus the position.
 * Restoring it with {@link BatchSampler.loadStateDict} continues exactly where the sampler stopped.
 */
export interface BatchSamplerState {
  datasetSize: number;
  batchSize: number;
  seed: number;
  shuffle: boolean;
  dropLast: boolean;
  /** Current epoch (0-based). */
  epoch: number;
  /** Position inside the current epoch's order (index of the next example to draw). */
  cursor: number;
  /** Batches drawn so far, over all epochs. */
  step: number;
}

/** One batch of example indices, with where it came from. @inline */
export interface SampledBatch {
  /** Indices into the dataset, in batch order. */
  indices: number[];
  /** Epoch this batch belongs to. */
  epoch: number;
  /** 0-based number of this batch over the whole run. */
  step: number;
}

/**
 * A deterministic, resumable, endless batch sampler over a dataset of N examples: epoch e visits the
 * permutation drawn from `(seed, e)` (or 0..N-1 without shuffling) in batches of `batchSize`. Each
 * epoch's order depends only on the seed and the epoch number, never on how many batches were drawn
 * before, so a sampler restored from {@link BatchSampler.stateDict} yields exactly the batches an
 * uninterrupted one would.
 *
 * @example
 * ```ts
 * const sampler = new BatchSampler({ datasetSize: pairs.length, batchSize: 8, seed: 1 });
 * const { indices } = sampler.next();
 * const batch = collatePreferencePairs(indices.map((i) => pairs[i]), { padTokenId: 0, eosTokenId: 2 });
 * const saved = JSON.stringify(sampler.stateDict()); // checkpoint
 * const resumed = new BatchSampler({ datasetSize: pairs.length, batchSize: 8, seed: 1 });
 * resumed.loadStateDict(JSON.parse(saved));
 * ```
 */
export class BatchSampler {
  readonly datasetSize: number;
  readonly batchSize: number;
  readonly seed: number;
  readonly shuffle: boolean;
  readonly dropLast: boolean;
  private epoch = 0;
  private cursor = 0;
  private step = 0;
  private order: number[] | null = null;

  /** A sampler positioned at the first batch of epoch 0; see {@link BatchSamplerArgs}. */
  constructor(args: BatchSamplerArgs) {
    const where = 'BatchSampler';
    assertArgs(where, args, 'an options object');
    assertKnownKeys(where, args, ['datasetSize', 'batchSize', 'seed', 'shuffle', 'dropLast']);
    this.datasetSize = assertNumber(where, 'datasetSize', args.datasetSize, { min: 1, integer: true });
    this.batchSize = assertNumber(where, 'batchSize', args.batchSize, { min: 1, integer: true });
    this.seed = assertNumber(where, 'seed', args.seed ?? 0, { integer: true });
    this.shuffle = assertBoolean(where, 'shuffle', args.shuffle ?? true);
    this.dropLast = assertBoolean(where, 'dropLast', args.dropLast ?? false);
    if (this.dropLast && this.batchSize > this.datasetSize) {
      throw argumentError(
        'OUT_OF_RANGE',
        where,
        'batchSize',
        `at most datasetSize (${this.datasetSize}) when dropLast is true`,
        String(this.batchSize),
      );
    }
  }

  /** Number of batches in one epoch. */
  get batchesPerEpoch(): number {
    return this.dropLast
      ? Math.floor(this.datasetSize / this.batchSize)
      : Math.ceil(this.datasetSize / this.batchSize);
  }

  /** The order in which epoch `epoch` visits the examples. */
  epochOrder(epoch: number): number[] {
    assertNumber('BatchSampler.epochOrder', 'epoch', epoch, { min: 0, integer: true });
    if (!this.shuffle) return Array.from({ length: this.datasetSize }, (_, i) => i);
    return permutation(this.datasetSize, mulberry32(mixSeed(this.seed, epoch)));
  }

  /** Draws the next batch of indices (moving to the next epoch when this one is exhausted). */
  next(): SampledBatch {
    const remaining = this.datasetSize - this.cursor;
    if (remaining === 0 || (this.dropLast && remaining < this.batchSize)) {
      this.epoch += 1;
      this.cursor = 0;
      this.order = null;
    }
    if (this.order === null) this.order = this.epochOrder(this.epoch);
    const end = Math.min(this.cursor + this.batchSize, this.datasetSize);
    const indices = this.order.slice(this.cursor, end);
    this.cursor = end;
    const out = { indices, epoch: this.epoch, step: this.step };
    this.step += 1;
    return out;
  }

  /**
   * The options and the position as plain JSON (`JSON.stringify` round-trips it), the sampler's
   * `state_dict`. {@link loadStateDict} on a sampler with the same options continues exactly where
   * this one stopped.
   */
  stateDict(): BatchSamplerState {
    return {
      datasetSize: this.datasetSize,
      batchSize: this.batchSize,
      seed: this.seed,
      shuffle: this.shuffle,
      dropLast: this.dropLast,
      epoch: this.epoch,
      cursor: this.cursor,
      step: this.step,
    };
  }

  /**
   * Moves to the position of a {@link stateDict}. Its options (dataset size, batch size, seed,
   * shuffle, dropLast) must be this sampler's; all or nothing.
   *
   * @throws GanpoError `INVALID_FORMAT` for a non-object or a bad position, `STATE_DICT_MISMATCH`
   *   naming the first option that differs.
   */
  loadStateDict(state: BatchSamplerState): void {
    const where = 'BatchSampler.loadStateDict';
    if (state === null || typeof state !== 'object') {
      throw argumentError('INVALID_FORMAT', where, 'state', 'a BatchSamplerState object', String(state));
    }
    for (const key of ['datasetSize', 'batchSize', 'seed', 'shuffle', 'dropLast'] as const) {
      if (state[key] !== this[key]) {
        throw argumentError(
          'STATE_DICT_MISMATCH',
          where,
          `state.${key}`,
          String(this[key]),
          String(state[key]),
        );
      }
    }
    const epoch = assertNumber(where, 'state.epoch', state.epoch, { min: 0, integer: true });
    const cursor = assertNumber(where, 'state.cursor', state.cursor, {
      min: 0,
      max: this.datasetSize,
      integer: true,
    });
    const step = assertNumber(where, 'state.step', state.step, { min: 0, integer: true });
    // A position next() can reach: whole batches into the epoch (or the end of the data), and as
    // many batches drawn in all as the epochs before and this one's cursor make. Any other would
    // draw other batches than an uninterrupted run.
    const perEpoch = this.batchesPerEpoch;
    const inEpoch = Math.ceil(cursor / this.batchSize);
    const reachable =
      (cursor % this.batchSize === 0 || (cursor === this.datasetSize && !this.dropLast)) &&
      inEpoch <= perEpoch &&
      step === epoch * perEpoch + inEpoch;
    if (!reachable) {
      throw argumentError(
        'INVALID_FORMAT',
        where,
        'state.step',
        `a position the sampler can reach (step = epoch × ${perEpoch} + batches into the epoch)`,
        `epoch ${epoch}, cursor ${cursor}, step ${step}`,
      );
    }
    if (epoch !== this.epoch) this.order = null;
    this.epoch = epoch;
    this.cursor = cursor;
    this.step = step;
  }
}

function assertBoolean(where: string, name: string, value: unknown): boolean {
  if (typeof value !== 'boolean')
    throw argumentError('INVALID_OPTION', where, name, 'a boolean', String(value));
  return value;
}

/**
 * A sampler built from a saved {@link BatchSampler.stateDict} (its options) and moved to its
 * position: how a trainer that has not drawn a batch yet resumes.
 *
 * @throws GanpoError as the constructor and {@link BatchSampler.loadStateDict}.
 */
export function samplerFromState(state: BatchSamplerState): BatchSampler {
  if (state === null || typeof state !== 'object') {
    throw argumentError(
      'INVALID_FORMAT',
      'BatchSampler.loadStateDict',
      'state',
      'a BatchSamplerState object',
      String(state),
    );
  }
  const { datasetSize, batchSize, seed, shuffle, dropLast } = state;
  const sampler = new BatchSampler({ datasetSize, batchSize, seed, shuffle, dropLast });
  sampler.loadStateDict(state);
  return sampler;
}
