import type * as tf from '@tensorflow/tfjs-core';
import { argumentError } from '../core/errors';
import { assertFinite, assertNumber, assertTensor } from '../core/validate';

/** The plain-JSON form of a {@link RunningMoments}: the keys of TRL's `running.json` checkpoint file. */
export interface RunningMomentsState {
  mean: number;
  std: number;
  var: number;
  count: number;
}

/**
 * Running mean and variance of a stream of batches, merged with the parallel (Chan et al.) update,
 * as TRL's `RunningMoments` (trl/experimental/bco/bco_trainer.py) keeps BCO's reward mean δ:
 *
 *     n = batch size, m_b, v_b = batch mean and population variance
 *     d = m_b − mean,  N = count + n
 *     mean ← mean + d·n/N
 *     var  ← (var·count + d²·count·n/N + v_b·n) / N,   std = sqrt(var·N/(N − 1)),   count ← N
 *
 * Initial state (TRL's): mean 0, var 1, std 1, count 1e-24 (so the first batch sets the mean). The
 * state is kept in float64 and is always finite; `stateDict()` gives TRL's `running.json` keys, so a
 * TRL checkpoint's file can be loaded with {@link RunningMoments.loadStateDict} and continued. One
 * difference: while at most one value has been folded in (N ≤ 1), the unbiased std is undefined
 * (TRL divides by N − 1 = 0 and stores Infinity, which JSON cannot hold); here it is then the
 * population std √var, so the state round-trips through JSON.
 */
export class RunningMoments {
  private state: RunningMomentsState = { mean: 0, std: 1, var: 1, count: 1e-24 };

  /** The running mean (BCO's δ). */
  get mean(): number {
    return this.state.mean;
  }

  /** The running standard deviation (unbiased). */
  get std(): number {
    return this.state.std;
  }

  /** The running population variance. */
  get var(): number {
    return this.state.var;
  }

  /** The number of values folded in (plus TRL's initial 1e-24). */
  get count(): number {
    return this.state.count;
  }

  /**
   * Folds in a batch: a non-empty float32 tensor (one read-back of its values; the tensor is not
   * disposed) or a non-empty array of numbers. Returns the batch's mean and unbiased std, as TRL's
   * `update` (for a batch of one value, whose unbiased std is undefined, the std is 0).
   *
   * The batch moments are computed in float64 over values scaled by their largest magnitude, and
   * the merge in an order that does not square the mean difference before weighting it, so values
   * up to float64's range fold in without overflow. A batch whose merged moments still do not fit
   * a float64 (TRL's prior pseudo-count of 1e-24 at mean 0 makes the variance grow as
   * 1e-24·mean², so a mean beyond about 1e166 overflows it) is refused with `OUT_OF_RANGE`.
   *
   * @throws GanpoError on an empty batch, non-finite values, or moments that overflow; a refused
   *   update changes nothing.
   */
  update(xs: tf.Tensor | readonly number[]): { mean: number; std: number } {
    const where = 'RunningMoments.update';
    let values: ArrayLike<number>;
    if (Array.isArray(xs)) {
      if (xs.length === 0)
        throw argumentError('SHAPE_MISMATCH', where, 'xs', 'a non-empty batch', 'length 0');
      for (const x of xs) assertNumber(where, 'xs', x);
      values = xs;
    } else {
      assertTensor(where, 'xs', xs);
      if ((xs as tf.Tensor).size === 0) {
        throw argumentError('SHAPE_MISMATCH', where, 'xs', 'a non-empty tensor', 'size 0');
      }
      assertFinite(where, 'xs', xs as tf.Tensor);
      values = (xs as tf.Tensor).dataSync() as ArrayLike<number>;
    }
    const { n, m, v } = batchMoments(values);
    const next = merge(this.state, n, m, v);
    if (!Object.values(next).every(Number.isFinite)) {
      throw argumentError(
        'OUT_OF_RANGE',
        where,
        'xs',
        'values whose running mean and variance fit a float64',
        `a batch of mean ${m} and variance ${v}, giving mean ${next.mean} and variance ${next.var}`,
      );
    }
    this.state = next;
    return { mean: m, std: n > 1 ? Math.sqrt((v * n) / (n - 1)) : 0 };
  }

  /** The state as plain JSON (TRL's `running.json` keys). */
  stateDict(): RunningMomentsState {
    return { ...this.state };
  }

  /**
   * Restores a state written by {@link RunningMoments.stateDict} or by TRL's `save_to_json`. All or
   * nothing: a refused state changes nothing.
   *
   * @throws GanpoError on a missing or non-finite field, a negative variance or a count ≤ 0.
   */
  loadStateDict(state: RunningMomentsState): void {
    const where = 'RunningMoments.loadStateDict';
    if (state === null || typeof state !== 'object') {
      throw argumentError('INVALID_FORMAT', where, 'state', '{ mean, std, var, count }', String(state));
    }
    this.state = {
      mean: assertNumber(where, 'mean', state.mean),
      std: assertNumber(where, 'std', state.std, { min: 0 }),
      var: assertNumber(where, 'var', state.var, { min: 0 }),
      count: assertNumber(where, 'count', state.count, { greaterThan: 0 }),
    };
  }
}

/**
 * Mean and population variance of a batch in float64, over the values divided by their largest
 * magnitude (so neither the sum nor the squares overflow), scaled back at the end.
 */
function batchMoments(values: ArrayLike<number>): { n: number; m: number; v: number } {
  const n = values.length;
  let scale = 0;
  for (let i = 0; i < n; i++) scale = Math.max(scale, Math.abs(values[i] as number));
  if (scale === 0) return { n, m: 0, v: 0 };
  let sum = 0;
  for (let i = 0; i < n; i++) sum += (values[i] as number) / scale;
  const mean = sum / n;
  let squares = 0;
  for (let i = 0; i < n; i++) squares += ((values[i] as number) / scale - mean) ** 2;
  return { n, m: mean * scale, v: (squares / n) * scale * scale };
}

/** The parallel (Chan et al.) merge of the running state with a batch of n values, mean m, variance v. */
function merge(s: RunningMomentsState, n: number, m: number, v: number): RunningMomentsState {
  const d = m - s.mean;
  const total = s.count + n;
  // d·(d·w) rather than d²·w: with TRL's count of 1e-24, d² overflows long before the product does.
  const w = (s.count * n) / total;
  const variance = (s.var * s.count + d * (d * w) + v * n) / total;
  return {
    mean: s.mean + d * (n / total),
    var: variance,
    std: Math.sqrt(total > 1 ? (variance * total) / (total - 1) : variance),
    count: total,
  };
}
