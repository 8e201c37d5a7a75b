// Shared pieces of ganpo's tfjs-layers layers (./*.ts).
import type * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { argumentError } from '../../core/errors';
import { assertArgs, assertNumber } from '../../core/validate';

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

/** The initialisation arguments the layers share. */
export interface InitArgs {
  /** Standard deviation of the N(0, σ²) kernel initialisation. Default 0.02 (GPT-2). */
  initializerRange?: number;
  /** Seed of the initialisers. Default: unseeded. */
  seed?: number;
}

/** {@link InitArgs} checked, with their defaults. */
export function initOptions(
  where: string,
  args: InitArgs,
): { initializerRange: number; seed: number | undefined } {
  return {
    initializerRange: assertNumber(
      where,
      'initializerRange',
      args.initializerRange ?? GPT2_INITIALIZER_RANGE,
      {
        greaterThan: 0,
      },
    ),
    seed: args.seed === undefined ? undefined : assertNumber(where, 'seed', args.seed, { integer: true }),
  };
}

/** The config entries of {@link InitArgs} (no `seed` key when unseeded). */
export function initConfig(o: {
  initializerRange: number;
  seed: number | undefined;
}): tf.serialization.ConfigDict {
  return { initializerRange: o.initializerRange, ...(o.seed === undefined ? {} : { seed: o.seed }) };
}

/**
 * `args` itself checked (a plain object), so that `new Dense(null)` is a `GanpoError` naming it
 * instead of a TypeError from inside tfjs-layers. Returns `args`.
 */
export function checkedLayerArgs<T>(where: string, args: T, expected = 'an options object'): T {
  assertArgs(where, args, expected);
  return args;
}

/**
 * A layer with N(0, σ²) kernels: reads and checks {@link InitArgs} and writes them into its config.
 * Also the helpers its subclasses need for shapes and inputs.
 */
export abstract class InitializedLayer extends tfl.layers.Layer {
  /** σ of the kernels' N(0, σ²) initialisation. */
  readonly initializerRange: number;
  /** Seed of the initialisers (unseeded when undefined). */
  readonly seed: number | undefined;

  /** Reads the initialisation arguments (`where`: the subclass name in error messages). */
  constructor(where: string, args: LayerArgs & InitArgs) {
    super(checkedLayerArgs(where, args));
    ({ initializerRange: this.initializerRange, seed: this.seed } = initOptions(where, args));
  }

  /** N(0, stddev²) seeded with `seed + offset` (unseeded without a seed). */
  protected normalInit(stddev: number, offset = 0) {
    return normal(stddev, this.seed === undefined ? undefined : this.seed + offset);
  }

  /** The layer's config with its initialisation arguments. */
  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), ...initConfig(this) };
  }
}
