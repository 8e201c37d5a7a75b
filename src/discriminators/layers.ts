import * as tf from '@tensorflow/tfjs-core';
import { argumentError } from '../core/errors';
import { assertBinary, assertDtype, assertFinite, assertShape } from '../core/validate';
import { ownedVariable } from '../core/variables';
import { fastLinear } from '../ops/fast-linear';

/** Spectral-norm power-iteration epsilon, `torch.nn.utils.spectral_norm`'s default. */
export const SPECTRAL_NORM_EPS = 1e-12;

let instanceCounter = 0;

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
      tf.tidy(() => {
        const k = this.kernel;
        const vNew = l2normalize(tf.matMul(k, tf.reshape(u, [this.outDim, 1])));
        const uNew = l2normalize(tf.matMul(tf.reshape(vNew, [1, this.inDim]), k));
        v.assign(tf.reshape(vNew, [this.inDim]));
        u.assign(tf.reshape(uNew, [this.outDim]));
      });
    }
    // u, v are non-trainable variables: constants for every gradient, exactly like PyTorch's clones.
    const sigma = tf.sum(
      tf.mul(tf.matMul(tf.reshape(v, [1, this.inDim]), this.kernel), tf.reshape(u, [1, this.outDim])),
    );
    return tf.div(this.kernel, sigma);
  }

  apply(x: tf.Tensor2D, training: boolean): tf.Tensor2D {
    return fastLinear(x, this.effectiveKernel(training), this.bias);
  }

  get trainable(): tf.Variable[] {
    return [this.kernel, this.bias];
  }

  get all(): tf.Variable[] {
    return [this.kernel, this.bias, ...(this.u ? [this.u] : []), ...(this.v ? [this.v] : [])];
  }

  /** PyTorch state-dict entries of this layer under `prefix` (copies; W transposed back to [out, in]). */
  stateEntries(prefix: string, out: Record<string, tf.Tensor>): void {
    if (this.u && this.v) {
      out[`${prefix}.weight_orig`] = tf.transpose(this.kernel);
      out[`${prefix}.weight_u`] = tf.clone(this.u);
      out[`${prefix}.weight_v`] = tf.clone(this.v);
    } else {
      out[`${prefix}.weight`] = tf.transpose(this.kernel);
    }
    out[`${prefix}.bias`] = tf.clone(this.bias);
  }

  /** Expected state-dict keys and PyTorch shapes, plus how to assign each. */
  stateSpecs(prefix: string, specs: StateSpec[]): void {
    const { u, v } = this;
    const assignW = (t: tf.Tensor): void => this.kernel.assign(tf.transpose(t) as tf.Tensor2D);
    if (u && v) {
      specs.push({ key: `${prefix}.weight_orig`, shape: [this.outDim, this.inDim], assign: assignW });
      specs.push({
        key: `${prefix}.weight_u`,
        shape: [this.outDim],
        assign: (t) => u.assign(t as tf.Tensor1D),
      });
      specs.push({
        key: `${prefix}.weight_v`,
        shape: [this.inDim],
        assign: (t) => v.assign(t as tf.Tensor1D),
      });
    } else {
      specs.push({ key: `${prefix}.weight`, shape: [this.outDim, this.inDim], assign: assignW });
    }
    specs.push({
      key: `${prefix}.bias`,
      shape: [this.outDim],
      assign: (t) => this.bias.assign(t as tf.Tensor1D),
    });
  }
}

/** One persistent tensor of a state dict: its PyTorch name and shape, and how to load it. */
export interface StateSpec {
  key: string;
  shape: number[];
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
 * The input contract of every discriminator's `apply`: `hidden` float32 [B,T,inputDim] with B, T > 0
 * and finite values; `mask`, when given, [B,T] of 0/1.
 */
export function validateApplyInputs(
  where: string,
  hidden: tf.Tensor3D,
  inputDim: number,
  mask?: tf.Tensor2D,
): void {
  assertShape(where, 'hidden', hidden, [null, null, inputDim], '[B,T,inputDim]');
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
