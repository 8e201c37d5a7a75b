import * as tf from '@tensorflow/tfjs-core';
import { argumentError } from '../core/errors';
import { brandClass } from '../core/instance';
import { assertKnownKeys } from '../core/options';
import { assertArgs, assertFloat32Values, assertNumber, fmtShape } from '../core/validate';
import { ownedVariable } from '../core/variables';
import { adamwUpdate } from './adamw-update';

/** A named tensor as in tfjs's optimizer weight lists (tfjs-core does not export the type). @inline */
type NamedTensor = { name: string; tensor: tf.Tensor };

/** Options of {@link AdamW}. Defaults are `torch.optim.AdamW`'s, except `learningRate` (required). */
export interface AdamWArgs {
  /** Step size α (> 0 … any value ≥ 0 is accepted; schedules may set 0). Required. */
  learningRate: number;
  /** Exponential decay of the first moment. Default 0.9 (PyTorch). */
  beta1?: number;
  /** Exponential decay of the second moment. Default 0.999 (PyTorch). */
  beta2?: number;
  /** Added to √v̂ (after the square root). Default 1e-8 (PyTorch; tfjs's Adam uses 1e-7). */
  epsilon?: number;
  /** Decoupled weight decay λ: p ← p − α·λ·p before the Adam step. Default 0.01 (PyTorch). */
  weightDecay?: number;
  /**
   * Which variables are decayed, by variable name. Default: all (as `torch.optim.AdamW` with one
   * parameter group). Return false e.g. for biases and LayerNorm weights, as Hugging Face's Trainer
   * does.
   */
  decayFilter?: (variableName: string) => boolean;
}

/** The keys of {@link AdamWArgs}: anything else is a typo and refused. */
const ADAMW_KEYS: readonly (keyof AdamWArgs)[] = [
  'learningRate',
  'beta1',
  'beta2',
  'epsilon',
  'weightDecay',
  'decayFilter',
];

/** Per-variable state in plain JSON: PyTorch's `state[p]` = { step, exp_avg, exp_avg_sq }. @inline */
export interface AdamWSlotState {
  /** Number of updates this variable received (PyTorch counts per parameter). */
  step: number;
  shape: number[];
  /** First moment (exp_avg), float32 values, row-major. */
  m: number[];
  /** Second moment (exp_avg_sq), float32 values, row-major. */
  v: number[];
}

/** The whole optimizer state in plain JSON (`JSON.stringify` round-trips it exactly). */
export interface AdamWState {
  config: { learningRate: number; beta1: number; beta2: number; epsilon: number; weightDecay: number };
  /** Number of `applyGradients` calls (tfjs's `iterations`). */
  iterations: number;
  /**
   * Keyed by variable name (by position in the trainer's and regularizer's states). `null`: a
   * variable that has no moments yet (states keyed by position list every variable, so that a
   * missing slot is told apart from one never made).
   */
  slots: Record<string, AdamWSlotState | null>;
}

interface Slot {
  step: number;
  m: tf.Variable;
  v: tf.Variable;
}

const WHERE = 'AdamW';

/**
 * AdamW with exactly PyTorch's semantics (`torch.optim.AdamW`, Loshchilov & Hutter 2019), as a
 * `tf.Optimizer` so `minimize` and `applyGradients` work. For each variable p with gradient g, at
 * its own step count t:
 *
 *     p ← p · (1 − α·λ)                       (decoupled weight decay)
 *     m ← β₁·m + (1 − β₁)·g
 *     v ← β₂·v + (1 − β₂)·g²
 *     p ← p − (α / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)    (ε after the square root)
 *
 * State is keyed by variable **name**, not by position (tfjs's own optimizers mix states when the
 * variable list changes, tfjs issue 8379). A variable absent from a call (or with a null gradient)
 * is neither decayed nor stepped, and its step count does not advance — as PyTorch skips
 * parameters whose `.grad` is None. `learningRate` is settable, so a schedule can drive it.
 * `stateDict()` / `loadStateDict()` (PyTorch's `state_dict` / `load_state_dict`, in plain JSON)
 * restore the exact float32 state: save → restore → continue is bit-identical to an uninterrupted
 * run. `getWeights` / `setWeights` exist because `tf.Optimizer` requires them (tfjs-layers
 * serialization); use `stateDict` in your own code.
 *
 * @example
 * ```ts
 * const opt = new AdamW({ learningRate: 1e-4, weightDecay: 0.01 });
 * const { value, grads } = tf.variableGrads(lossFn, model.trainableWeights.map((w) => w.read() as tf.Variable));
 * opt.applyGradients(grads);
 * tf.dispose([value, ...Object.values(grads)]);
 * ```
 * @see https://pytorch.org/docs/1.13/generated/torch.optim.AdamW.html
 */
export class AdamW extends tf.Optimizer {
  /**
   * Class name for tfjs serialization (`tf.serialization.registerClass`).
   * @nocollapse
   */
  static get className(): string {
    return 'AdamW';
  }

  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  readonly weightDecay: number;
  private readonly decayFilter?: (variableName: string) => boolean;
  private lr: number;
  private slots = new Map<string, Slot>();

  /** An optimizer with no state yet (slots are created on first use); see {@link AdamWArgs}. */
  constructor(args: AdamWArgs) {
    super();
    assertArgs(WHERE, args, '{ learningRate, ... }');
    assertKnownKeys(WHERE, args, ADAMW_KEYS);
    this.lr = assertNumber(WHERE, 'learningRate', args.learningRate, { min: 0 });
    this.beta1 = assertNumber(WHERE, 'beta1', args.beta1 ?? 0.9, { min: 0, lessThan: 1 });
    this.beta2 = assertNumber(WHERE, 'beta2', args.beta2 ?? 0.999, { min: 0, lessThan: 1 });
    this.epsilon = assertNumber(WHERE, 'epsilon', args.epsilon ?? 1e-8, { min: 0 });
    this.weightDecay = assertNumber(WHERE, 'weightDecay', args.weightDecay ?? 0.01, { min: 0 });
    if (args.decayFilter !== undefined && typeof args.decayFilter !== 'function') {
      throw argumentError('INVALID_OPTION', WHERE, 'decayFilter', 'a function', typeof args.decayFilter);
    }
    this.decayFilter = args.decayFilter;
  }

  /** The current learning rate α. Set it (e.g. from a schedule) before each step. */
  get learningRate(): number {
    return this.lr;
  }

  /** Sets the learning rate α used by the next step (≥ 0). */
  set learningRate(value: number) {
    this.lr = assertNumber('AdamW.learningRate', 'learningRate', value, { min: 0 });
  }

  /** Names of the variables that have optimizer state. */
  get stateNames(): string[] {
    return [...this.slots.keys()];
  }

  /** The step count of one variable (0 if it was never updated). */
  stepOf(variableName: string): number {
    return this.slots.get(variableName)?.step ?? 0;
  }

  /**
   * One AdamW step on the variables named in `variableGradients` (a name → gradient map, as
   * returned by `tf.variableGrads`, or a `NamedTensor[]`). Gradients are not disposed.
   *
   * @throws GanpoError when a name is not a registered variable or a gradient's shape or dtype
   *   differs from its variable's. Everything is checked before anything changes.
   */
  override applyGradients(variableGradients: tf.NamedTensorMap | NamedTensor[]): void {
    const where = 'AdamW.applyGradients';
    const entries: [string, tf.Tensor | null | undefined][] = Array.isArray(variableGradients)
      ? variableGradients.map((e) => [e.name, e.tensor])
      : Object.entries(variableGradients ?? {});
    const registered = tf.engine().registeredVariables;
    const work: [tf.Variable, tf.Tensor][] = [];
    for (const [name, grad] of entries) {
      if (grad === null || grad === undefined) continue;
      const variable = registered[name];
      const arg = `variableGradients.${name}`;
      if (variable === undefined) {
        throw argumentError(
          'INVALID_ARGUMENT',
          where,
          arg,
          'the name of a registered tf.Variable',
          `'${name}'`,
        );
      }
      if (!(grad instanceof tf.Tensor) || grad.isDisposed) {
        throw argumentError('INVALID_ARGUMENT', where, arg, 'a live tensor', String(grad));
      }
      if (grad.dtype !== 'float32' || variable.dtype !== 'float32') {
        throw argumentError(
          'INVALID_DTYPE',
          where,
          arg,
          'float32 gradient and variable',
          `${grad.dtype}/${variable.dtype}`,
        );
      }
      if (!tf.util.arraysEqual(grad.shape, variable.shape)) {
        throw argumentError(
          'SHAPE_MISMATCH',
          where,
          arg,
          `the variable's shape ${fmtShape(variable.shape)}`,
          `shape ${fmtShape(grad.shape)}`,
        );
      }
      work.push([variable, grad]);
    }
    for (const [variable, grad] of work) this.step(variable, grad);
    this.incrementIterations();
  }

  private step(p: tf.Variable, g: tf.Tensor): void {
    let slot = this.slots.get(p.name);
    if (slot === undefined) {
      slot = {
        step: 0,
        m: ownedVariable(tf.zeros(p.shape), false),
        v: ownedVariable(tf.zeros(p.shape), false),
      };
      this.slots.set(p.name, slot);
    }
    const s = slot;
    s.step += 1;
    // Scalar coefficients in float64, as PyTorch computes them with Python floats before casting.
    const lr = this.lr;
    const decay = this.weightDecay !== 0 && (this.decayFilter?.(p.name) ?? true);
    const biasCorrection1 = 1 - this.beta1 ** s.step;
    const biasCorrection2Sqrt = Math.sqrt(1 - this.beta2 ** s.step);
    const stepSize = lr / biasCorrection1;
    tf.tidy(() => {
      const [next, m, v] = adamwUpdate(p, g, s.m, s.v, {
        decay,
        decayFactor: 1 - lr * this.weightDecay,
        ...{ beta1: this.beta1, beta2: this.beta2, epsilon: this.epsilon },
        ...{ biasCorrection2Sqrt, stepSize },
      });
      s.m.assign(m);
      s.v.assign(v);
      p.assign(next);
    });
  }

  /**
   * The full state as plain JSON (one read-back per slot), like `torch.optim.AdamW.state_dict()`.
   * Restoring it with {@link AdamW.loadStateDict} reproduces the float32 moments exactly;
   * `JSON.stringify` round-trips it.
   */
  stateDict(): AdamWState {
    const slots: Record<string, AdamWSlotState> = {};
    for (const [name, s] of this.slots) {
      slots[name] = {
        step: s.step,
        shape: [...s.m.shape],
        m: Array.from(s.m.dataSync()),
        v: Array.from(s.v.dataSync()),
      };
    }
    return { config: this.getConfig() as AdamWState['config'], iterations: this.iterations_, slots };
  }

  /**
   * Replaces the whole state (moments, per-variable steps, iterations and the learning rate; like
   * PyTorch's `load_state_dict`, which restores `lr` from the param group). Betas, ε and λ must
   * match this optimizer's, so a state is never silently applied with other hyper-parameters.
   *
   * @param options.rename - maps a saved variable name to the name of the variable it now belongs
   *   to (tfjs appends `_1` to the names of re-created variables); identity by default.
   * @throws GanpoError (`INVALID_FORMAT` / `STATE_DICT_MISMATCH`) on a malformed state, mismatched
   *   hyper-parameters, or a slot whose shape differs from the live variable it maps to;
   *   `NON_FINITE` (validation level `'full'`) for a NaN/Infinity moment or a negative v. The
   *   current state is unchanged then.
   */
  loadStateDict(state: AdamWState, options: { rename?: (savedName: string) => string } = {}): void {
    this.prepareLoadStateDict(state, options).commit();
  }

  /**
   * Checks `state` completely (as {@link AdamW.loadStateDict} does, plus finite moments with v ≥ 0
   * at validation level `'full'`) without changing anything. `commit` replaces the state (it does
   * not throw); `release` frees nothing (the parsed state is plain JSON). Lets a caller validate
   * several parts of a checkpoint before applying any of them.
   *
   * @param options.rename - as in {@link AdamW.loadStateDict}.
   * @param options.where - the public function named in errors. Default `'AdamW.loadStateDict'`.
   * @internal
   */
  prepareLoadStateDict(
    state: AdamWState,
    options: { rename?: (savedName: string) => string; where?: string } = {},
  ): { commit: () => void; release: () => void } {
    const where = options?.where ?? 'AdamW.loadStateDict';
    if (
      state === null ||
      typeof state !== 'object' ||
      typeof state.slots !== 'object' ||
      state.slots === null ||
      Array.isArray(state.slots)
    ) {
      throw argumentError('INVALID_FORMAT', where, 'state', '{ config, iterations, slots }', typeof state);
    }
    const c = state.config ?? ({} as AdamWState['config']);
    for (const key of ['beta1', 'beta2', 'epsilon', 'weightDecay'] as const) {
      if (c[key] !== this[key]) {
        throw argumentError('STATE_DICT_MISMATCH', where, `config.${key}`, String(this[key]), String(c[key]));
      }
    }
    assertNumber(where, 'config.learningRate', c.learningRate, { min: 0 });
    assertNumber(where, 'iterations', state.iterations, { min: 0, integer: true });
    const rename = options?.rename ?? ((n: string) => n);
    const parsed: [string, AdamWSlotState][] = [];
    for (const [saved, slot] of Object.entries(state.slots)) {
      const arg = `slots.${saved}`;
      // No variable lookup may reach Object.prototype: a JSON key '__proto__' named no variable and
      // failed with a raw TypeError.
      if (saved === '__proto__') {
        throw argumentError(
          'INVALID_FORMAT',
          where,
          'slots',
          'variable names as keys',
          "the key '__proto__'",
        );
      }
      if (slot === null) continue;
      const size =
        Array.isArray(slot?.shape) && slot.shape.every((d) => Number.isSafeInteger(d) && d >= 0)
          ? slot.shape.reduce((a, b) => a * b, 1)
          : -1;
      const ok =
        slot !== null &&
        typeof slot === 'object' &&
        Number.isSafeInteger(slot.step) &&
        slot.step >= 1 &&
        Array.isArray(slot.m) &&
        Array.isArray(slot.v) &&
        slot.m.length === size &&
        slot.v.length === size &&
        slot.m.every((x) => typeof x === 'number') &&
        slot.v.every((x) => typeof x === 'number');
      if (!ok) {
        throw argumentError(
          'INVALID_FORMAT',
          where,
          arg,
          "{ step >= 1, shape, m, v } with m, v numbers of the shape's size",
          'a malformed slot',
        );
      }
      // A NaN or float32-overflowing moment would write NaN weights on the next step; a negative v
      // has no square root.
      assertFloat32Values(where, `${arg}.m`, slot.m);
      assertFloat32Values(where, `${arg}.v`, slot.v, 0);
      const target = rename(saved);
      // A live variable of that name must have the saved shape (a renamed or re-built model that
      // does not match would otherwise fail later, or broadcast silently).
      const registry = tf.engine().registeredVariables;
      const live = Object.hasOwn(registry, target) ? registry[target] : undefined;
      if (live !== undefined && !tf.util.arraysEqual(live.shape, slot.shape)) {
        throw argumentError(
          'STATE_DICT_MISMATCH',
          where,
          arg,
          `the shape of variable '${target}' ${fmtShape(live.shape)}`,
          `shape ${fmtShape(slot.shape)}`,
        );
      }
      parsed.push([target, slot]);
    }
    const { iterations } = state;
    const learningRate = c.learningRate;
    const commit = (): void => {
      this.disposeSlots();
      for (const [name, slot] of parsed) {
        this.slots.set(name, {
          step: slot.step,
          m: ownedVariable(tf.tensor(slot.m, slot.shape, 'float32'), false),
          v: ownedVariable(tf.tensor(slot.v, slot.shape, 'float32'), false),
        });
      }
      this.iterations_ = iterations;
      this.lr = learningRate;
    };
    return { commit, release: () => {} };
  }

  /** tfjs form of the state: iterations, then `<name>/step`, `<name>/m`, `<name>/v` per variable. */
  override async getWeights(): Promise<NamedTensor[]> {
    const out: NamedTensor[] = [await this.saveIterations()];
    for (const [name, s] of this.slots) {
      out.push({ name: `${name}/step`, tensor: tf.scalar(s.step, 'int32') });
      out.push({ name: `${name}/m`, tensor: s.m });
      out.push({ name: `${name}/v`, tensor: s.v });
    }
    return out;
  }

  /** Restores what {@link AdamW.getWeights} returned (copies the tensors; the caller keeps them). */
  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    const rest = await this.extractIterations(weightValues);
    const groups = new Map<string, { step?: number; m?: tf.Tensor; v?: tf.Tensor }>();
    for (const { name, tensor } of rest) {
      const cut = name.lastIndexOf('/');
      const base = name.slice(0, cut);
      const kind = name.slice(cut + 1);
      const g = groups.get(base) ?? {};
      if (kind === 'step') g.step = tensor.dataSync()[0];
      else if (kind === 'm') g.m = tensor;
      else if (kind === 'v') g.v = tensor;
      else
        throw argumentError('INVALID_FORMAT', 'AdamW.setWeights', name, "a '<variable>/step|m|v' name", name);
      groups.set(base, g);
    }
    const slots = new Map<string, Slot>();
    for (const [name, g] of groups) {
      if (g.step === undefined || g.m === undefined || g.v === undefined) {
        throw argumentError(
          'INVALID_FORMAT',
          'AdamW.setWeights',
          name,
          'step, m and v',
          'an incomplete slot',
        );
      }
      slots.set(name, {
        step: g.step,
        m: ownedVariable(tf.clone(g.m), false),
        v: ownedVariable(tf.clone(g.v), false),
      });
    }
    this.disposeSlots();
    this.slots = slots;
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      learningRate: this.lr,
      beta1: this.beta1,
      beta2: this.beta2,
      epsilon: this.epsilon,
      weightDecay: this.weightDecay,
    };
  }

  /**
   * Rebuilds an optimizer from {@link AdamW.getConfig} (tfjs serialization); state is restored separately.
   * @nocollapse
   */
  static override fromConfig<T extends tf.serialization.Serializable>(
    cls: tf.serialization.SerializableConstructor<T>,
    config: tf.serialization.ConfigDict,
  ): T {
    return new cls(config as unknown as AdamWArgs);
  }

  private disposeSlots(): void {
    for (const s of this.slots.values()) tf.dispose([s.m, s.v]);
    this.slots.clear();
  }

  /** Disposes the optimizer state (never the optimized variables). */
  override dispose(): void {
    this.disposeSlots();
  }
}
brandClass(AdamW, 'AdamW');
