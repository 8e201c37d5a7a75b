/**
 * Gradient passes that free memory as they go. tfjs-core 4.x's backward pass
 * (`backpropagateGradients` in tape.ts) keeps the gradient of every intermediate tensor, every
 * partial gradient it has summed into another, and every tensor saved for the backward pass alive
 * until the whole pass ends, so its peak is about the forward's saved tensors plus a gradient for
 * each of them. PyTorch's autograd frees each as soon as the last node that reads it has run.
 *
 * {@link withEagerRelease} does the same for the passes that run inside it: each tape node recorded
 * there gets a gradient function that, before it runs, disposes what the previous node (in backward
 * order) left behind: its saved tensors, the gradients of its outputs (complete once that node has
 * run: every reader of an output comes later on the tape, so was visited earlier) and partial
 * gradients tfjs has summed into a new tensor. Nothing a later node or the caller can still read is
 * disposed: a tensor stored as some other gradient, a kept tensor, a gradient the caller passed in.
 * Values are unchanged; only disposal is earlier.
 */
import type * as tf from '@tensorflow/tfjs-core';
import { engine } from '@tensorflow/tfjs-core';
import { kernelFlags } from './kernel-flags';

type Thunks = Record<string, () => tf.Tensor>;

interface TapeNodeLike {
  inputs: Record<string, tf.Tensor>;
  outputs: tf.Tensor[];
  saved?: tf.Tensor[];
  gradient?: (dys: (tf.Tensor | null)[]) => Thunks;
}

interface EngineLike {
  state: { gradientDepth: number; activeTape: TapeNodeLike[] | null };
  addTapeNode: (...args: unknown[]) => void;
}

/** What one backward pass (one tape) has produced and not yet released. */
class PassState {
  /** Gradient slots (accumulated-gradient map entries) each tensor is known to fill. */
  private readonly slots = new Map<tf.Tensor, number>();
  /** Ids of the tensors that already received a gradient in this pass. */
  private readonly seen = new Set<number>();
  private consumed: tf.Tensor[] = [];
  private saved: tf.Tensor[] = [];
  private summed: tf.Tensor[] = [];

  /** Wraps a node's gradient function (see the module comment). */
  wrap(node: TapeNodeLike, gradient: NonNullable<TapeNodeLike['gradient']>): TapeNodeLike['gradient'] {
    return (dys) => {
      this.release();
      const thunks = gradient(dys);
      const firstOutput = Math.min(...node.outputs.map((o) => o.id));
      // Gradients made during this pass (after the node's outputs); an initial dy the caller passed
      // in was made before the forward pass and is never released here.
      const current = dys.filter((d): d is tf.Tensor => d !== null && d.id > firstOutput && !d.kept);
      const wrapped: Thunks = {};
      for (const [name, thunk] of Object.entries(thunks)) {
        const input = node.inputs[name];
        wrapped[name] = () => {
          const dx = thunk();
          if (input) this.record(input, dx, current);
          return dx;
        };
      }
      this.consumed = current;
      this.saved = node.saved ?? [];
      return wrapped;
    };
  }

  /** Books the gradient `dx` of `input` the way tfjs will store it (as is, or summed into a new tensor). */
  private record(input: tf.Tensor, dx: tf.Tensor, current: readonly tf.Tensor[]): void {
    if (this.seen.has(input.id)) {
      this.summed.push(dx); // tfjs stores add(previous, dx): dx itself is read no more
      return;
    }
    this.seen.add(input.id);
    // A tensor tfjs made (a sum, the initial ones) fills one slot before it is returned again.
    const base = this.slots.get(dx) ?? (current.includes(dx) ? 1 : 0);
    this.slots.set(dx, base + 1);
  }

  /** Disposes what the previous node left behind (see the module comment). */
  release(): void {
    for (const dy of this.consumed) {
      if (dy.isDisposed) continue;
      const n = (this.slots.get(dy) ?? 1) - 1;
      if (n > 0) this.slots.set(dy, n);
      else {
        this.slots.delete(dy);
        dy.dispose();
      }
    }
    for (const t of this.summed) if (!t.isDisposed && !t.kept && !((this.slots.get(t) ?? 0) > 0)) t.dispose();
    // Saved tensors are kept clones that only their node reads (unless returned as a gradient).
    for (const t of this.saved) if (!t.isDisposed && !((this.slots.get(t) ?? 0) > 0)) t.dispose();
    this.consumed = [];
    this.saved = [];
    this.summed = [];
  }
}

let depth = 0;

/**
 * Runs `fn` with the first-order gradient passes inside it (`tf.variableGrads`, `tf.grads`,
 * `optimizer.minimize`, ...) releasing saved tensors and intermediate gradients as soon as the
 * backward pass is done with them (see the module comment). Values and gradients are unchanged;
 * the pass's peak memory drops to about the forward's saved tensors. Nested calls apply once;
 * higher-order gradients (a gradient pass recorded inside another) are left as tfjs runs them.
 * Needs tfjs-core 4.x's engine layout; with any other it simply calls `fn`.
 */
export function withEagerRelease<T>(fn: () => T): T {
  const e = engine() as unknown as Partial<EngineLike>;
  if (depth > 0 || !kernelFlags.eagerRelease || typeof e.addTapeNode !== 'function' || !e.state) return fn();
  const target = e as EngineLike;
  const own = Object.hasOwn(target, 'addTapeNode');
  const original = target.addTapeNode;
  const passes = new WeakMap<object, PassState>();
  target.addTapeNode = function (this: EngineLike, ...args: unknown[]): void {
    original.apply(this, args);
    const tape = this.state.activeTape;
    if (!tape || this.state.gradientDepth !== 1) return;
    const node = tape[tape.length - 1];
    if (!node?.gradient) return;
    let pass = passes.get(tape);
    if (!pass) {
      pass = new PassState();
      passes.set(tape, pass);
    }
    node.gradient = pass.wrap(node, node.gradient);
  };
  depth = 1;
  try {
    return fn();
  } finally {
    depth = 0;
    if (own) target.addTapeNode = original;
    else delete (target as Partial<EngineLike>).addTapeNode;
  }
}
