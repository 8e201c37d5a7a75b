import * as tf from '@tensorflow/tfjs-core';
import { argumentError } from '../core/errors';
import {
  assertArgs,
  assertFinite,
  assertNumber,
  assertTensor,
  checksShapes,
  FLOAT32_MAX,
} from '../core/validate';

/** Options of {@link RunningMean}. */
export interface RunningMeanArgs {
  /**
   * Weight of the old value, m in `value ← m·value + (1 − m)·x`. Default 0.9 (the official GANPO
   * code's EMA momentum). Must be in [0, 1); 0 keeps only the latest value.
   */
  momentum?: number;
}

/** The plain-JSON form of a {@link RunningMean} (what `toJSON` returns and `fromJSON` accepts). @inline */
export interface RunningMeanJSON {
  momentum: number;
  /** `null` before the first update. */
  value: number | null;
  /** Number of updates so far. */
  count: number;
}

/**
 * An exponential moving average of batch means, initialised with the first value (no zero bias, no
 * bias correction), as the official GANPO code keeps its six discriminator-score means:
 *
 *     first update: value = x;   later: value = m·value + (1 − m)·x
 *
 * The value is a plain number (a detached constant, like the official `.detach()`ed EMA); it is
 * kept in float64. `toJSON` / {@link RunningMean.fromJSON} round-trip it exactly, so a restored
 * mean continues bit-for-bit.
 *
 * @example
 * ```ts
 * const m = new RunningMean({ momentum: 0.9 });
 * m.update(scores);            // mean of a tensor (one read-back), or a number
 * lossFn({ realMean: m.value! });
 * ```
 */
export class RunningMean {
  readonly momentum: number;
  private current: number | null = null;
  private updates = 0;

  /** An empty running mean (its first {@link RunningMean.update} sets the value); see {@link RunningMeanArgs}. */
  constructor(args: RunningMeanArgs = {}) {
    assertArgs('RunningMean', args, '{ momentum? } or nothing');
    this.momentum = assertNumber('RunningMean', 'momentum', args.momentum ?? 0.9, { min: 0, lessThan: 1 });
  }

  /** The current mean, `null` before the first update. */
  get value(): number | null {
    return this.current;
  }

  /** Number of updates so far. */
  get count(): number {
    return this.updates;
  }

  /**
   * Folds in one observation: a finite number, or a non-empty float tensor whose mean is taken (one
   * read-back; the tensor is not disposed). Returns the new value.
   *
   * @throws GanpoError on a non-finite number or tensor values, or an empty tensor. A refused
   *   update leaves the mean unchanged.
   */
  update(x: number | tf.Tensor): number {
    const where = 'RunningMean.update';
    let v: number;
    if (typeof x === 'number') {
      v = assertNumber(where, 'x', x);
    } else {
      assertTensor(where, 'x', x);
      if (checksShapes() && x.size === 0) {
        throw argumentError(
          'SHAPE_MISMATCH',
          where,
          'x',
          'a non-empty tensor',
          `shape [${x.shape.join(',')}]`,
        );
      }
      assertFinite(where, 'x', x);
      const m = tf.tidy(() => tf.mean(tf.cast(x, 'float32')));
      v = m.dataSync()[0] as number;
      m.dispose();
      // At validation level 'shapes'/'off' the finiteness check is skipped; never let NaN in silently.
      assertNumber(where, 'x', v);
    }
    this.current = this.current === null ? v : this.momentum * this.current + (1 - this.momentum) * v;
    this.updates += 1;
    return this.current;
  }

  /** Forgets the value (the next update initialises it again). */
  reset(): void {
    this.current = null;
    this.updates = 0;
  }

  /** Plain-JSON state; `JSON.stringify` round-trips every float64 exactly. */
  toJSON(): RunningMeanJSON {
    return { momentum: this.momentum, value: this.current, count: this.updates };
  }

  /**
   * Rebuilds a mean from {@link RunningMean.toJSON} output.
   *
   * @throws GanpoError (`INVALID_FORMAT`) on a malformed object.
   */
  static fromJSON(json: RunningMeanJSON): RunningMean {
    const where = 'RunningMean.fromJSON';
    const ok =
      json !== null &&
      typeof json === 'object' &&
      typeof json.momentum === 'number' &&
      (json.value === null || (typeof json.value === 'number' && Math.abs(json.value) <= FLOAT32_MAX)) &&
      typeof json.count === 'number' &&
      Number.isInteger(json.count) &&
      json.count >= 0 &&
      (json.value === null) === (json.count === 0);
    if (!ok) {
      throw argumentError(
        'INVALID_FORMAT',
        where,
        'json',
        '{ momentum: number, value: a number finite in float32 | null, count: integer >= 0 } (value null iff count 0)',
        JSON.stringify(json),
      );
    }
    const m = new RunningMean({ momentum: json.momentum });
    m.current = json.value;
    m.updates = json.count;
    return m;
  }
}
