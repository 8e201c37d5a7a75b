import * as tf from '@tensorflow/tfjs-core';
import { argumentError } from '../core/errors';
import { assertBinary, assertDtype, assertFinite, assertShape } from '../core/validate';
import { ownedVariable } from '../core/variables';
import { fastLinear } from '../ops/fast-linear';
import { kernelFlags } from '../ops/kernel-flags';
import { offTape } from '../ops/tape';
import { wasmPowerIteration, wasmPowerIterationAvailable } from '../ops/wasm/power-iteration-kernel';
import { wasmSpectralScale, wasmSpectralScaleAvailable } from '../ops/wasm/spectral-scale-kernel';

/** Spectral-norm power-iteration epsilon, `torch.nn.utils.spectral_norm`'s default. */
export const SPECTRAL_NORM_EPS = 1e-12;

let instanceCounter = 0;

/**
 * Disposes every live variable whose name starts with `prefix/`: a constructor that fails half-way
 * (an allocation error) leaves nothing behind.
 */
export function disposeVariablesUnder(prefix: string): void {
  const registered = tf.engine().registeredVariables;
  for (const name of Object.keys(registered)) {
    if (name.startsWith(`${prefix}/`)) registered[name]?.dispose();
  }
}

/** A variable-name prefix no other live tfjs variable uses (two discriminators must coexist). */
export function uniquePrefix(className: string): string {
  const registered = tf.engine().registeredVariables;
  let name: string;
  do {
    instanceCounter += 1;
    name = `ganpo/${className}_${instanceCounter}`;
  } while (Object.keys(registered).some((k) => k.startsWith(`${name}/`)));
  return name;
}

/**
 * Deterministic seed stream: each call gives the next integer seed for tf.random* (whose seeded
 * generators run in JS, so values are identical on every backend). Unseeded streams start randomly.
 */
export function seedStream(seed?: number): () => number {
  let s = seed ?? Math.floor(Math.random() * 2 ** 31);
  return () => {
    s = (Math.imul(s ^ (s >>> 15), 2246822507) + 0x9e3779b9) >>> 0;
    return s;
  };
}

/** Xavier/Glorot-uniform [fanIn, fanOut] kernel (PyTorch `xavier_uniform_`, gain 1). */
export function xavierUniform(fanIn: number, fanOut: number, seed: number): tf.Tensor2D {
  const bound = Math.sqrt(6 / (fanIn + fanOut));
  return tf.randomUniform([fanIn, fanOut], -bound, bound, 'float32', seed);
}

function l2normalize(x: tf.Tensor): tf.Tensor {
  return tf.div(x, tf.maximum(tf.norm(x), SPECTRAL_NORM_EPS));
}

/**
 * One spectral-norm power iteration in place on u [out], v [in] for K = Wᵀ [in, out]:
 * v ← normalize(K·u), u ← normalize(vᵀ·K). On wasm one SIMD kernel (./ops/wasm/power-iteration-simd.ts)
 * instead of ~20 tfjs kernels.
 */
function powerIteration(k: tf.Tensor2D, u: tf.Variable<tf.Rank.R1>, v: tf.Variable<tf.Rank.R1>): void {
  if (kernelFlags.wasmPowerIteration && wasmPowerIterationAvailable()) {
    const [vNew, uNew] = wasmPowerIteration(k, u, SPECTRAL_NORM_EPS);
    v.assign(vNew);
    u.assign(uNew);
    tf.dispose([vNew, uNew]);
    return;
  }
  const [inDim, outDim] = k.shape;
  tf.tidy(() => {
    const vNew = l2normalize(tf.matMul(k, tf.reshape(u, [outDim, 1])));
    const uNew = l2normalize(tf.matMul(tf.reshape(vNew, [1, inDim]), k));
    v.assign(tf.reshape(vNew, [inDim]));
    u.assign(tf.reshape(uNew, [outDim]));
  });
}

/**
 * A Linear layer (optionally spectral-normalised) whose kernel is stored transposed, K = Wᵀ
 * [in, out], so that forward and backward are plain 2-D matMuls (fast on wasm, see fastLinear).
 * Spectral norm follows `torch.nn.utils.spectral_norm(Linear)`: persistent u [out], v [in]; a
 * training-mode call does one power iteration v = norm(Wᵀu), u = norm(Wv) and uses W/σ,
 * σ = uᵀWv, with u, v constants for the gradient.
 */
export class LinearParams {
  readonly kernel: tf.Variable<tf.Rank.R2>;
  readonly bias: tf.Variable<tf.Rank.R1>;
  readonly u: tf.Variable<tf.Rank.R1> | null;
  readonly v: tf.Variable<tf.Rank.R1> | null;

  constructor(
    readonly name: string,
    readonly inDim: number,
    readonly outDim: number,
    readonly spectralNorm: boolean,
    nextSeed: () => number,
  ) {
    // Xavier on the raw weight and zero bias: the intent of the official `TransformerDiscriminator._init_weights`
    // (GANPO_trl.py), whose Xavier init PyTorch's spectral_norm then replaces with the recomputed weight.
    this.kernel = ownedVariable(xavierUniform(inDim, outDim, nextSeed()), true, `${name}/kernel`);
    this.bias = ownedVariable(tf.zeros([outDim]), true, `${name}/bias`);
    if (spectralNorm) {
      // PyTorch: u = normalize(randn(out)), v = normalize(randn(in)), no iteration at construction.
      this.u = ownedVariable(
        tf.tidy(() => l2normalize(tf.randomNormal([outDim], 0, 1, 'float32', nextSeed()))) as tf.Tensor1D,
        false,
        `${name}/u`,
      );
      this.v = ownedVariable(
        tf.tidy(() => l2normalize(tf.randomNormal([inDim], 0, 1, 'float32', nextSeed()))) as tf.Tensor1D,
        false,
        `${name}/v`,
      );
    } else {
      this.u = null;
      this.v = null;
    }
  }

  /** Effective kernel [in, out]: K, or K/σ under spectral norm (one power iteration first when training). */
  effectiveKernel(training: boolean): tf.Tensor2D {
    const { u, v } = this;
    if (!u || !v) return this.kernel;
    if (training) {
      // u, v are constants of every gradient: the iteration need not be recorded on an enclosing
      // tape (each recorded op would save copies of its inputs for a backward pass never taken).
      offTape(() => powerIteration(this.kernel, u, v));
    }
    // u, v are non-trainable variables: constants for every gradient, exactly like PyTorch's clones.
    if (kernelFlags.wasmSpectralScale && wasmSpectralScaleAvailable()) {
      return wasmSpectralScale(this.kernel, u, v); // one kernel each way instead of 7 + 16
    }
    const sigma = tf.sum(
      tf.mul(tf.matMul(tf.reshape(v, [1, this.inDim]), this.kernel), tf.reshape(u, [1, this.outDim])),
    );
    return tf.div(this.kernel, sigma);
  }

  /** y = x·K + b (K/σ under spectral norm); `dataInput`: x is the network's input (see fastLinear). */
  apply(x: tf.Tensor2D, training: boolean, dataInput = false): tf.Tensor2D {
    return fastLinear(x, this.effectiveKernel(training), this.bias, dataInput);
  }

  get trainable(): tf.Variable[] {
    return [this.kernel, this.bias];
  }

  get all(): tf.Variable[] {
    return [this.kernel, this.bias, ...(this.u ? [this.u] : []), ...(this.v ? [this.v] : [])];
  }

  /**
   * This layer's state-dict entries under `prefix`, PyTorch names and layouts: the weight [out, in]
   * (`weight`, or `weight_orig` with `weight_u` [out] and `weight_v` [in] under spectral norm) and
   * `bias` [out].
   */
  stateSpecs(prefix: string, specs: StateSpec[]): void {
    const { u, v } = this;
    const weight = transposedSpec('', this.kernel, this.outDim, this.inDim);
    if (u && v) {
      specs.push(
        { ...weight, key: `${prefix}.weight_orig` },
        vectorSpec(`${prefix}.weight_u`, u),
        vectorSpec(`${prefix}.weight_v`, v),
      );
    } else {
      specs.push({ ...weight, key: `${prefix}.weight` });
    }
    specs.push(vectorSpec(`${prefix}.bias`, this.bias));
  }
}

/** A state-dict entry stored as is (a bias, a LayerNorm parameter, a spectral-norm vector). */
export function vectorSpec(key: string, variable: tf.Variable<tf.Rank.R1>): StateSpec {
  return layoutSpec(key, [...variable.shape], variable, tf.clone, tf.clone);
}

/**
 * A state-dict entry for a kernel stored transposed, K = Wᵀ [in, out]: PyTorch's `nn.Linear.weight`
 * is W [out, in].
 */
export function transposedSpec(
  key: string,
  kernel: tf.Variable<tf.Rank.R2>,
  outDim: number,
  inDim: number,
): StateSpec {
  return layoutSpec(key, [outDim, inDim], kernel, tf.transpose, tf.transpose);
}

/**
 * A state-dict entry whose PyTorch layout is `toTorch` of the variable (and the variable
 * `fromTorch` of the PyTorch tensor): `read`/`assign` apply them to the weight, and the same
 * transforms map any tensor laid out like the variable, e.g. its optimizer moments.
 */
export function layoutSpec(
  key: string,
  shape: number[],
  variable: tf.Variable,
  toTorch: (t: tf.Tensor) => tf.Tensor,
  fromTorch: (t: tf.Tensor) => tf.Tensor,
): StateSpec {
  return {
    key,
    shape,
    variable,
    toTorch,
    fromTorch,
    read: () => toTorch(variable),
    assign: (t) => variable.assign(fromTorch(t)),
  };
}

/**
 * One persistent tensor of a state dict: its PyTorch name and shape, how to read it and how to load
 * it. Both `stateDict` and `loadStateDict` derive from the same list, so a key cannot be missing
 * from one of them.
 */
export interface StateSpec {
  key: string;
  shape: number[];
  /** The variable behind the entry. */
  variable: tf.Variable;
  /** A tensor laid out like `variable` (the weight, or an optimizer moment of it) in the PyTorch layout (new tensor). */
  toTorch: (t: tf.Tensor) => tf.Tensor;
  /** The inverse of `toTorch` (new tensor). */
  fromTorch: (t: tf.Tensor) => tf.Tensor;
  /** A copy in the PyTorch layout (caller disposes). */
  read: () => tf.Tensor;
  /** Receives a float32 tensor of exactly `shape`, inside a tidy. */
  assign: (t: tf.Tensor) => void;
}

/**
 * Masked mean over positions: Σ_t m·h / max(Σ_t m, 1); plain mean over T without a mask.
 * @param h - [B, T, H]; @param mask - [B, T] float 0/1 or undefined.
 */
export function maskedMeanPool(h: tf.Tensor3D, mask?: tf.Tensor2D): tf.Tensor2D {
  if (!mask) return tf.mean(h, 1);
  const m = tf.expandDims(mask, -1);
  return tf.div(tf.sum(tf.mul(h, m), 1), tf.maximum(tf.sum(m, 1), 1)) as tf.Tensor2D;
}

/**
 * The input contract of every discriminator's `apply`: `hidden` float32 [B,T,latentDim] with B, T > 0
 * and finite values; `mask`, when given, [B,T] of 0/1.
 */
export function validateApplyInputs(
  where: string,
  hidden: tf.Tensor3D,
  latentDim: number,
  mask?: tf.Tensor2D,
): void {
  assertShape(where, 'hidden', hidden, [null, null, latentDim], '[B,T,latentDim]');
  assertDtype(where, 'hidden', hidden, ['float32']);
  const [B, T] = hidden.shape;
  if (mask !== undefined) {
    assertShape(where, 'mask', mask, [B, T], '[B,T]');
    assertDtype(where, 'mask', mask, ['float32', 'int32', 'bool']);
    assertBinary(where, 'mask', mask);
  }
  assertFinite(where, 'hidden', hidden);
  if (B === 0 || T === 0) {
    throw argumentError(
      'SHAPE_MISMATCH',
      where,
      'hidden',
      'B > 0 and T > 0',
      `shape [${hidden.shape.join(',')}]`,
    );
  }
}
