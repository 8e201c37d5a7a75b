// Shared pieces of ganpo's tfjs-layers layers (./*.ts).
import type * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { argumentError } from '../../core/errors';

/** tfjs-layers' common layer arguments (`name`, `trainable`, `inputShape`, `dtype`, …). */
export type LayerArgs = NonNullable<ConstructorParameters<typeof tfl.layers.Layer>[0]>;
/** A layer input or output shape, `null` for unknown sizes (tfjs-layers' `Shape`). */
export type Shape = tfl.Shape;
export type LayerVariable = ReturnType<tfl.layers.Layer['addWeight']>;

/** GPT-2's `initializer_range` (Hugging Face transformers `GPT2Config`): N(0, 0.02²) weights. */
export const GPT2_INITIALIZER_RANGE = 0.02;

/** N(0, stddev²), seeded when `seed` is given. */
export const normal = (stddev: number, seed: number | undefined) =>
  tfl.initializers.randomNormal({ mean: 0, stddev, ...(seed === undefined ? {} : { seed }) });

/** The first input of a layer call. */
export const single = (inputs: tf.Tensor | tf.Tensor[]): tf.Tensor =>
  Array.isArray(inputs) ? (inputs[0] as tf.Tensor) : inputs;

/** The last dimension of the (first) input shape, which must be known to build the weights. */
export function lastDim(shape: Shape | Shape[], where: string): number {
  const s = (Array.isArray(shape[0]) ? shape[0] : shape) as Shape;
  const d = s[s.length - 1];
  if (typeof d !== 'number')
    throw argumentError('SHAPE_MISMATCH', where, 'inputShape', 'a known last dimension', String(d));
  return d;
}
