import { argumentError } from '../core/errors';
import { FLOAT32_MAX } from '../core/validate';
import type { SetMeans } from '../divergence/ganpo-relativistic';
import { RunningMean, type RunningMeanJSON } from '../divergence/running-mean';
import type { GanpoSixMeans, MeanEstimator, PerSide } from './types';

/** A discriminator: `chosen` (D_w) or `rejected` (D_l). */
export type Side = keyof PerSide<unknown>;
/** A scored set of one discriminator. */
export type SetName = keyof SetMeans<unknown>;
/** Both sides, chosen first (the order of every loop over discriminators). */
export const SIDES: readonly Side[] = ['chosen', 'rejected'];
/** The three sets, in the order the official code scores them. */
export const SETS: readonly SetName[] = ['reference', 'policy', 'opposite'];

/** Six plain numbers, one per discriminator and set (a step's batch means, or the means it uses). */
export type SixValues = PerSide<SetMeans<number>>;

/** The saved form of the six means (part of {@link GanpoRegularizerState}). @inline */
export interface SixMeansJSON {
  /** The running (EMA) means, used by the `'ema'` estimator. */
  running: PerSide<SetMeans<RunningMeanJSON>>;
  /** The last step's batch means, used by the `'batch'` estimator; `null` before the first step. */
  batch: GanpoSixMeans | null;
}

/**
 * The regularizer's six set means and their two-phase update: a discriminator step first
 * {@link SixMeans.preview}s the means this batch gives (what its loss subtracts), and
 * {@link SixMeans.commit}s them only once that loss is known to be finite, so that a refused step
 * changes no mean.
 */
export class SixMeans {
  private readonly running: PerSide<SetMeans<RunningMean>>;
  private batchMeans: GanpoSixMeans | null;

  /** Empty means (`null` until the first commit). */
  constructor(
    readonly estimator: MeanEstimator,
    readonly momentum: number,
    saved?: { running: PerSide<SetMeans<RunningMean>>; batch: GanpoSixMeans | null },
  ) {
    const empty = (): SetMeans<RunningMean> => ({
      reference: new RunningMean({ momentum }),
      policy: new RunningMean({ momentum }),
      opposite: new RunningMean({ momentum }),
    });
    this.running = saved?.running ?? { chosen: empty(), rejected: empty() };
    this.batchMeans = saved?.batch ?? null;
  }

  /**
   * The six current means (`null` before the first commit): the running means with `'ema'`, the
   * last step's batch means with `'batch'`.
   */
  get current(): GanpoSixMeans {
    if (this.estimator === 'batch') {
      const empty: SetMeans<number | null> = { reference: null, policy: null, opposite: null };
      return this.batchMeans ?? { chosen: { ...empty }, rejected: { ...empty } };
    }
    const side = (s: Side): SetMeans<number | null> => ({
      reference: this.running[s].reference.value,
      policy: this.running[s].policy.value,
      opposite: this.running[s].opposite.value,
    });
    return { chosen: side('chosen'), rejected: side('rejected') };
  }

  /**
   * The means a step on a batch with these batch means would use, without changing anything: the
   * batch means themselves (`'batch'`, or the first EMA update), else the EMA update
   * m·previous + (1 − m)·batch.
   */
  preview(batch: SixValues): SixValues {
    const pending = {} as SixValues;
    for (const side of SIDES) {
      pending[side] = {} as SetMeans<number>;
      for (const set of SETS) {
        const x = batch[side][set];
        const previous = this.running[side][set].value;
        pending[side][set] =
          this.estimator === 'batch' || previous === null
            ? x
            : this.momentum * previous + (1 - this.momentum) * x;
      }
    }
    return pending;
  }

  /** Commits a step: the EMA update with `batch` (`'ema'`), or `pending` as the batch means. */
  commit(batch: SixValues, pending: SixValues): void {
    if (this.estimator === 'ema') {
      // The same EMA update the loss previewed in `pending`.
      for (const side of SIDES) for (const set of SETS) this.running[side][set].update(batch[side][set]);
    } else {
      this.batchMeans = { chosen: { ...pending.chosen }, rejected: { ...pending.rejected } };
    }
  }

  /** The plain-JSON form, exact (see {@link RunningMean.toJSON}). */
  toJSON(): SixMeansJSON {
    const running = (side: Side): SetMeans<RunningMeanJSON> => ({
      reference: this.running[side].reference.toJSON(),
      policy: this.running[side].policy.toJSON(),
      opposite: this.running[side].opposite.toJSON(),
    });
    return {
      running: { chosen: running('chosen'), rejected: running('rejected') },
      batch: this.batchMeans,
    };
  }

  /**
   * Parses {@link SixMeans.toJSON}'s output.
   *
   * @throws GanpoError `INVALID_FORMAT` on a missing running mean, and whatever
   *   {@link RunningMean.fromJSON} rejects.
   */
  static fromJSON(
    where: string,
    json: SixMeansJSON | undefined,
    estimator: MeanEstimator,
    momentum: number,
  ): SixMeans {
    const running = {} as PerSide<SetMeans<RunningMean>>;
    for (const side of SIDES) {
      running[side] = {} as SetMeans<RunningMean>;
      for (const set of SETS) {
        const mean = json?.running?.[side]?.[set];
        if (mean === undefined) {
          throw argumentError(
            'INVALID_FORMAT',
            where,
            `means.running.${side}.${set}`,
            'a RunningMean JSON',
            'undefined',
          );
        }
        running[side][set] = RunningMean.fromJSON(mean);
      }
    }
    const batch = (json as SixMeansJSON).batch;
    if (batch !== null) {
      for (const side of SIDES) {
        for (const set of SETS) {
          const v = (batch as Partial<SixValues> | undefined)?.[side]?.[set];
          if (typeof v !== 'number' || !(Math.abs(v) <= FLOAT32_MAX)) {
            throw argumentError(
              'INVALID_FORMAT',
              where,
              `means.batch.${side}.${set}`,
              'a number finite in float32 (or batch: null)',
              String(v),
            );
          }
        }
      }
    }
    return new SixMeans(estimator, momentum, {
      running,
      batch: batch === null ? null : structuredClone(batch),
    });
  }
}
