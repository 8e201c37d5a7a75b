import * as tf from '@tensorflow/tfjs-core';
import { argumentError } from '../core/errors';
import { assertFinite, assertNumber, assertTensor } from '../core/validate';

/** The plain-JSON form of a {@link RunningMoments}: the keys of TRL's `running.json` checkpoint file. */
export interface RunningMomentsJSON {
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
 * state is kept in float64; `toJSON` gives TRL's `running.json` keys, so a TRL checkpoint's file
 * can be loaded with {@link RunningMoments.fromJSON} and continued.
 */
export class RunningMoments {
  private state: RunningMomentsJSON = { mean: 0, std: 1, var: 1, count: 1e-24 };

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
   * Folds in a batch: a non-empty float32 tensor (one read-back of its mean and variance; the tensor
   * is not disposed) or a non-empty array of numbers. Returns the batch's mean and unbiased std, as
   * TRL's `update`.
   *
   * @throws GanpoError on an empty batch or non-finite values; a refused update changes nothing.
   */
  update(xs: tf.Tensor | readonly number[]): { mean: number; std: number } {
    const where = 'RunningMoments.update';
    let n: number;
    let m: number;
    let v: number;
    if (Array.isArray(xs)) {
      n = xs.length;
      if (n === 0) throw argumentError('SHAPE_MISMATCH', where, 'xs', 'a non-empty batch', 'length 0');
      for (const x of xs) assertNumber(where, 'xs', x);
      m = xs.reduce((a, b) => a + b, 0) / n;
      v = xs.reduce((a, b) => a + (b - m) ** 2, 0) / n;
    } else {
      assertTensor(where, 'xs', xs);
      n = (xs as tf.Tensor).size;
      if (n === 0) throw argumentError('SHAPE_MISMATCH', where, 'xs', 'a non-empty tensor', 'size 0');
      assertFinite(where, 'xs', xs as tf.Tensor);
      const packed = tf.tidy(() => {
        const { mean, variance } = tf.moments(xs as tf.Tensor);
        return tf.stack([mean, variance]);
      });
      const [pm, pv] = packed.dataSync();
      packed.dispose();
      m = pm as number;
      v = pv as number;
      if (!Number.isFinite(m) || !Number.isFinite(v)) {
        throw argumentError('NON_FINITE', where, 'xs', 'finite values', `mean ${m}, variance ${v}`);
      }
    }
    const s = this.state;
    const d = m - s.mean;
    const total = s.count + n;
    const oldSum = s.var * s.count + (d * d * s.count * n) / total;
    const newVar = (oldSum + v * n) / total;
    this.state = {
      mean: s.mean + (d * n) / total,
      var: newVar,
      std: Math.sqrt((newVar * total) / (total - 1)),
      count: total,
    };
    return { mean: m, std: Math.sqrt((v * n) / (n - 1)) };
  }

  /** The state as plain JSON (TRL's `running.json` keys). */
  toJSON(): RunningMomentsJSON {
    return { ...this.state };
  }

  /**
   * Restores a state written by {@link RunningMoments.toJSON} or by TRL's `save_to_json`.
   *
   * @throws GanpoError on a missing or non-finite field, a negative variance or a count ≤ 0.
   */
  static fromJSON(json: RunningMomentsJSON): RunningMoments {
    const where = 'RunningMoments.fromJSON';
    if (json === null || typeof json !== 'object') {
      throw argumentError('INVALID_FORMAT', where, 'json', '{ mean, std, var, count }', String(json));
    }
    const out = new RunningMoments();
    out.state = {
      mean: assertNumber(where, 'mean', json.mean),
      std: assertNumber(where, 'std', json.std, { min: 0 }),
      var: assertNumber(where, 'var', json.var, { min: 0 }),
      count: assertNumber(where, 'count', json.count, { greaterThan: 0 }),
    };
    return out;
  }
}
