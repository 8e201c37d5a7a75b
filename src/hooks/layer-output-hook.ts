import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { argumentError } from '../core/errors';

type CallFn = (inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>) => tf.Tensor | tf.Tensor[];

const hooked = new WeakSet<tfl.layers.Layer>();

/**
 * A call-interception hook: captures a layer's output during the normal forward pass of whatever
 * model contains it — a nested model, a custom layer's private sub-layer, a Sequential or
 * functional model — so a latent loss uses the very tensor the model computed and gradients flow
 * back into the user's weights.
 *
 * It replaces `layer.call` on that instance (not on the class) with a wrapper that calls the
 * original and keeps `tf.keep(tf.clone(output))`: the clone is recorded on the gradient tape (so
 * gradients pass through it) and kept alive beyond `tf.tidy` / `tf.variableGrads` scopes and
 * beyond tfjs-layers' inference-mode disposal of intermediate tensors. The hook owns the captures:
 * call {@link LayerOutputHook.clear} after every step (it disposes them), and
 * {@link LayerOutputHook.remove} when done (it restores the layer exactly and disposes the
 * captures). The `training` flag and every other kwarg reach the layer unchanged.
 *
 * @example
 * ```ts
 * const hook = new LayerOutputHook(findLayer(model, 'decoder_last'));
 * const { value, grads } = tf.variableGrads(() => {
 *   const logits = model.apply(x, { training: true }) as tf.Tensor;
 *   const h = hook.last!;                 // [B,T,H], same forward
 *   return tf.add(lmLoss(logits), latentLoss(h));
 * }, vars);
 * hook.clear();                           // dispose this step's captures
 * ```
 */
export class LayerOutputHook {
  /** The hooked layer (not owned). */
  readonly layer: tfl.layers.Layer;
  private captures: tf.Tensor[] = [];
  private readonly hadOwnCall: boolean;
  private readonly ownCall: unknown;
  private removed = false;

  /** @throws GanpoError when `layer` is not a tfjs-layers Layer or is already hooked. */
  constructor(layer: tfl.layers.Layer) {
    const where = 'LayerOutputHook';
    if (!(layer instanceof tfl.layers.Layer)) {
      throw argumentError('INVALID_ARGUMENT', where, 'layer', 'a tf.layers.Layer instance', typeof layer);
    }
    if (hooked.has(layer)) {
      throw argumentError(
        'INVALID_ARGUMENT',
        where,
        'layer',
        'a layer without an active hook',
        `'${layer.name}', already hooked (remove() the other hook first)`,
      );
    }
    this.layer = layer;
    const target = layer as unknown as { call: CallFn };
    this.hadOwnCall = Object.hasOwn(layer, 'call');
    this.ownCall = this.hadOwnCall ? target.call : undefined;
    const original = target.call;
    const captures = this.captures;
    target.call = function hookedCall(this: unknown, inputs, kwargs) {
      const out = original.call(this, inputs, kwargs);
      for (const t of Array.isArray(out) ? out : [out]) captures.push(tf.keep(tf.clone(t)));
      return out;
    };
    hooked.add(layer);
  }

  /** Every capture since the last {@link LayerOutputHook.clear}, in call order (owned by the hook). */
  get outputs(): readonly tf.Tensor[] {
    return this.captures;
  }

  /** The latest capture (owned by the hook), or undefined when the layer has not run since `clear()`. */
  get last(): tf.Tensor | undefined {
    return this.captures[this.captures.length - 1];
  }

  /** Whether the hook is still installed. */
  get active(): boolean {
    return !this.removed;
  }

  /** Disposes every capture. Call it once per training step, after the gradients are computed. */
  clear(): void {
    tf.dispose(this.captures);
    this.captures.length = 0;
  }

  /** Restores the layer exactly as it was and disposes the captures. Idempotent. */
  remove(): void {
    if (this.removed) return;
    const target = this.layer as unknown as Record<string, unknown>;
    if (this.hadOwnCall) target.call = this.ownCall;
    else delete target.call;
    hooked.delete(this.layer);
    this.clear();
    this.removed = true;
  }
}
