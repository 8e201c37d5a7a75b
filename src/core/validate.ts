import * as tf from '@tensorflow/tfjs-core';
import { getValidationLevel } from './config';
import { argumentError } from './errors';
import { insideGradientTape } from './tape-state';

/**
 * Validation helpers shared by every public function. Each takes `where` (the public function's
 * name) and `name` (the argument's name) so that the error message names both.
 *
 * Shape/dtype/option checks are cheap and run at levels `'full'` and `'shapes'`; value checks
 * (finite, ranges, 0/1) read data back and run only at `'full'`, and only outside a gradient tape:
 * a read-back inside one stalls the backend on every call of a loss meant for `tf.variableGrads`,
 * and a throw there strands the tape's tensors (tfjs does not clean up after a throwing gradient
 * function). Non-finite inputs of a call inside a tape give a non-finite loss instead, which
 * `GanpoTrainer`'s non-finite guard (it skips such a step before anything changes) and
 * `clipGradNorm`'s `errorIfNonfinite` catch.
 */

/** Formats a shape as `[2,3,4]`. */
export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

function describe(x: unknown): string {
  if (x === null) return 'null';
  if (x === undefined) return 'undefined';
  if (x instanceof tf.Tensor) return `tensor ${x.dtype} ${fmtShape(x.shape)}`;
  if (Array.isArray(x)) return `array of length ${x.length}`;
  if (typeof x === 'number') return String(x);
  if (typeof x === 'string') return `'${x}'`;
  return typeof x;
}

/** Whether shape checks are enabled at the current level. */
export function checksShapes(): boolean {
  return getValidationLevel() !== 'off';
}

/** Whether value checks are enabled at the current level (plain numbers and JSON states). */
export function checksValues(): boolean {
  return getValidationLevel() === 'full';
}

/** Whether tensor value checks (which read data back) run: level `'full'`, outside a gradient tape. */
function readsTensorValues(): boolean {
  return checksValues() && !insideGradientTape();
}

/**
 * Asserts a function's single options/arguments object was given (not null, undefined or a
 * primitive). Always on: destructuring null would throw a bare TypeError.
 */
export function assertArgs(where: string, args: unknown, expected = 'an arguments object'): void {
  assertObject(where, 'args', args, expected);
}

/** Asserts `x` is a plain object (not null, undefined, an array or a primitive). Always on. */
export function assertObject(where: string, name: string, x: unknown, expected = 'an object'): void {
  if (x === null || typeof x !== 'object' || Array.isArray(x)) {
    throw argumentError('INVALID_ARGUMENT', where, name, expected, describe(x));
  }
}

/** Asserts `x` is a function (a callback argument). Always on. */
export function assertFunction(
  where: string,
  name: string,
  x: unknown,
): asserts x is (...args: never[]) => unknown {
  if (typeof x !== 'function')
    throw argumentError('INVALID_ARGUMENT', where, name, 'a function', describe(x));
}

/** Asserts `x` is a live tf.Tensor. Always on: using a non-tensor would throw something obscure. */
export function assertTensor(where: string, name: string, x: unknown): asserts x is tf.Tensor {
  if (!(x instanceof tf.Tensor)) {
    throw argumentError('INVALID_ARGUMENT', where, name, 'a tf.Tensor', describe(x));
  }
  if (x.isDisposed) {
    throw argumentError('DISPOSED', where, name, 'a live tensor', 'a disposed tensor');
  }
}

/** Asserts `x` has the given rank (or one of the given ranks). */
export function assertRank(
  where: string,
  name: string,
  x: tf.Tensor,
  rank: number | readonly number[],
): void {
  assertTensor(where, name, x);
  if (!checksShapes()) return;
  const ranks = typeof rank === 'number' ? [rank] : rank;
  if (!ranks.includes(x.rank)) {
    throw argumentError(
      'SHAPE_MISMATCH',
      where,
      name,
      `rank ${ranks.join(' or ')}`,
      `rank ${x.rank} ${fmtShape(x.shape)}`,
    );
  }
}

/**
 * Asserts `x` has exactly `shape`, where `null` entries match any size. `label` describes the
 * expected layout, e.g. `'[B,T,V]'`.
 */
export function assertShape(
  where: string,
  name: string,
  x: tf.Tensor,
  shape: readonly (number | null)[],
  label?: string,
): void {
  assertTensor(where, name, x);
  if (!checksShapes()) return;
  const ok = x.rank === shape.length && shape.every((d, i) => d === null || d === x.shape[i]);
  if (!ok) {
    const want = `[${shape.map((d) => (d === null ? '*' : String(d))).join(',')}]`;
    throw argumentError(
      'SHAPE_MISMATCH',
      where,
      name,
      label ? `shape ${label} = ${want}` : `shape ${want}`,
      `shape ${fmtShape(x.shape)}`,
    );
  }
}

/** Asserts `x.dtype` is one of `dtypes`. */
export function assertDtype(where: string, name: string, x: tf.Tensor, dtypes: readonly tf.DataType[]): void {
  assertTensor(where, name, x);
  if (!checksShapes()) return;
  if (!dtypes.includes(x.dtype)) {
    throw argumentError('INVALID_DTYPE', where, name, `dtype ${dtypes.join(' or ')}`, `dtype ${x.dtype}`);
  }
}

/**
 * Asserts every value of a float tensor is finite (level `'full'`, outside a gradient tape; one
 * scalar read-back).
 */
export function assertFinite(where: string, name: string, x: tf.Tensor): void {
  assertTensor(where, name, x);
  if (!readsTensorValues() || x.dtype === 'int32' || x.dtype === 'bool' || x.size === 0) return;
  const bad = tf.tidy(() => tf.sum(tf.cast(tf.logicalNot(tf.isFinite(x)), 'int32')));
  const count = bad.dataSync()[0] ?? 0;
  bad.dispose();
  if (count > 0) {
    throw argumentError('NON_FINITE', where, name, 'finite values', `${count} NaN/Infinity value(s)`);
  }
}

/** The largest finite float32: a saved number beyond it becomes ±Infinity in a float32 tensor. */
export const FLOAT32_MAX = 3.4028234663852886e38;

/**
 * Refuses (`NON_FINITE`, at level `'full'`) saved numbers a float32 tensor cannot hold exactly as
 * finite values: NaN, ±Infinity and finite values beyond float32's range (a JSON state holding
 * `1e39` would otherwise load as Infinity), and with `min` any value below it. Names `argument`
 * and the first such index. Plain JS, nothing allocated.
 */
export function assertFloat32Values(
  where: string,
  argument: string,
  values: readonly number[],
  min = Number.NEGATIVE_INFINITY,
): void {
  if (!checksValues()) return;
  const bad = values.findIndex((x) => !(Math.abs(x) <= FLOAT32_MAX && x >= min));
  if (bad >= 0) {
    throw argumentError(
      'NON_FINITE',
      where,
      argument,
      `values finite in float32 (|x| ≤ 3.4e38)${min > Number.NEGATIVE_INFINITY ? ` and ≥ ${min}` : ''}`,
      `[${bad}] = ${values[bad]}`,
    );
  }
}

/**
 * Asserts every value of `x` lies in `[low, high)` (level `'full'`, outside a gradient tape). Used
 * for token ids.
 */
export function assertValueRange(where: string, name: string, x: tf.Tensor, low: number, high: number): void {
  assertTensor(where, name, x);
  if (!readsTensorValues() || x.size === 0) return;
  const [mn, mx] = tf.tidy(() => [tf.min(x), tf.max(x)]) as [tf.Tensor, tf.Tensor];
  const lo = mn.dataSync()[0] ?? 0;
  const hi = mx.dataSync()[0] ?? 0;
  mn.dispose();
  mx.dispose();
  if (!(lo >= low && hi < high)) {
    throw argumentError(
      'OUT_OF_RANGE',
      where,
      name,
      `values in [${low}, ${high})`,
      `values in [${lo}, ${hi}]`,
    );
  }
}

/** Asserts every value of `x` is exactly 0 or 1 (level `'full'`, outside a gradient tape). Used for masks. */
export function assertBinary(where: string, name: string, x: tf.Tensor): void {
  assertTensor(where, name, x);
  if (!readsTensorValues() || x.size === 0 || x.dtype === 'bool') return;
  const bad = tf.tidy(() => tf.sum(tf.cast(tf.logicalAnd(tf.notEqual(x, 0), tf.notEqual(x, 1)), 'int32')));
  const count = bad.dataSync()[0] ?? 0;
  bad.dispose();
  if (count > 0) {
    throw argumentError('OUT_OF_RANGE', where, name, 'only 0 and 1 values', `${count} other value(s)`);
  }
}

/** Asserts two tensors have the same shape. */
export function assertSameShape(
  where: string,
  nameA: string,
  a: tf.Tensor,
  nameB: string,
  b: tf.Tensor,
): void {
  assertTensor(where, nameA, a);
  assertTensor(where, nameB, b);
  if (!checksShapes()) return;
  if (a.rank !== b.rank || a.shape.some((d, i) => d !== b.shape[i])) {
    throw argumentError(
      'SHAPE_MISMATCH',
      where,
      nameB,
      `the shape of '${nameA}' ${fmtShape(a.shape)}`,
      `shape ${fmtShape(b.shape)}`,
    );
  }
}

/** Options for {@link assertNumber}. */
export interface NumberConstraint {
  /** Inclusive lower bound. */
  min?: number;
  /** Exclusive lower bound. */
  greaterThan?: number;
  /** Inclusive upper bound. */
  max?: number;
  /** Exclusive upper bound. */
  lessThan?: number;
  /** Require an integer. */
  integer?: boolean;
}

/**
 * Asserts a plain-number option is finite and within bounds. Always on, whatever the level: a bad
 * hyper-parameter silently corrupts training.
 */
export function assertNumber(where: string, name: string, value: unknown, c: NumberConstraint = {}): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw argumentError(
      typeof value === 'number' ? 'NON_FINITE' : 'INVALID_OPTION',
      where,
      name,
      'a finite number',
      describe(value),
    );
  }
  const parts: string[] = [];
  if (c.min !== undefined) parts.push(`>= ${c.min}`);
  if (c.greaterThan !== undefined) parts.push(`> ${c.greaterThan}`);
  if (c.max !== undefined) parts.push(`<= ${c.max}`);
  if (c.lessThan !== undefined) parts.push(`< ${c.lessThan}`);
  if (c.integer) parts.push('an integer');
  const ok =
    (c.min === undefined || value >= c.min) &&
    (c.greaterThan === undefined || value > c.greaterThan) &&
    (c.max === undefined || value <= c.max) &&
    (c.lessThan === undefined || value < c.lessThan) &&
    (!c.integer || Number.isInteger(value));
  if (!ok) {
    throw argumentError('OUT_OF_RANGE', where, name, `a number ${parts.join(' and ')}`, String(value));
  }
  return value;
}

/**
 * Asserts two optional arguments come together: both given or both left out. Always on.
 *
 * @throws GanpoError `INVALID_ARGUMENT` naming the missing one; `expected` says what goes together.
 */
export function assertBothOrNeither(
  where: string,
  [firstName, first]: readonly [string, unknown],
  [secondName, second]: readonly [string, unknown],
  expected: string,
): void {
  if ((first === undefined) !== (second === undefined)) {
    throw argumentError(
      'INVALID_ARGUMENT',
      where,
      first === undefined ? firstName : secondName,
      expected,
      'only the other one',
    );
  }
}

/**
 * Asserts a saved object (a regularizer state, a trainer checkpoint) carries the expected
 * `{ format, version }` header. Always on.
 *
 * @throws GanpoError `INVALID_FORMAT` naming `name` for a non-object or another format or version.
 */
export function assertFormatHeader(
  where: string,
  name: string,
  value: unknown,
  format: string,
  version: number,
): void {
  const header = value as { format?: unknown; version?: unknown } | null;
  if (
    header === null ||
    typeof header !== 'object' ||
    header.format !== format ||
    header.version !== version
  ) {
    throw argumentError(
      'INVALID_FORMAT',
      where,
      name,
      `{ format: '${format}', version: ${version}, ... }`,
      header === null || typeof header !== 'object'
        ? String(header)
        : `format ${String(header.format)}, version ${String(header.version)}`,
    );
  }
}

/** Asserts an enum-like option is one of `allowed`. Always on. */
export function assertOneOf<T extends string>(
  where: string,
  name: string,
  value: unknown,
  allowed: readonly T[],
): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw argumentError(
      'INVALID_OPTION',
      where,
      name,
      `one of ${allowed.map((a) => `'${a}'`).join(' | ')}`,
      describe(value),
    );
  }
  return value as T;
}

/** Asserts a set of rank-1 tensors share the same length. */
export function assertSameLength(where: string, entries: readonly [string, tf.Tensor][]): void {
  if (!checksShapes() || entries.length === 0) return;
  const [firstName, first] = entries[0] as [string, tf.Tensor];
  const n = first.shape[0];
  for (const [name, t] of entries.slice(1)) {
    if (t.shape[0] !== n) {
      throw argumentError(
        'SHAPE_MISMATCH',
        where,
        name,
        `length ${n} (the length of '${firstName}')`,
        `length ${t.shape[0]}`,
      );
    }
  }
}
