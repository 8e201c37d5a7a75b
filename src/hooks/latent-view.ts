import type * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { argumentError, GanpoError } from '../core/errors';

/** What {@link LatentView.apply} returns; the caller owns every tensor. @inline */
export interface LatentViewOutput {
  /** The model's own outputs (e.g. logits), in `model.outputs` order. */
  outputs: tf.Tensor[];
  /** The requested layers' outputs (e.g. hidden states [B,T,H]), in the order they were requested. */
  latents: tf.Tensor[];
}

/**
 * A functional multi-output view of a Sequential or functional `LayersModel`: one forward pass
 * returns the model's outputs **and** the outputs of chosen inner layers, so a latent loss and the
 * logits come from the same pass and gradients reach the user's weights.
 *
 * It is `tf.model({ inputs: model.inputs, outputs: [...model.outputs, ...layers.map(l => l.output)] })`
 * and shares every weight with `model`. The underlying view model is never exposed and never
 * disposed: disposing a tfjs functional model disposes the weights of its layers, which are the
 * user's. {@link LatentView.dispose} only drops references.
 *
 * Layers inside nested models (or custom layers' private sub-layers) are not reachable from the
 * outer graph; use {@link LayerOutputHook} for those.
 *
 * @example
 * ```ts
 * const view = new LatentView(model, ['hidden']);
 * const { value, grads } = tf.variableGrads(() => {
 *   const { outputs: [logits], latents: [h] } = view.apply(x, { training: true });
 *   return tf.add(lmLoss(logits), latentLoss(h));
 * }, model.trainableWeights.map((w) => w.read() as tf.Variable));
 * ```
 */
export class LatentView {
  /** The user's model (not owned). */
  readonly model: tfl.LayersModel;
  /** Names of the captured layers, in output order. */
  readonly layerNames: string[];
  private view: tfl.LayersModel | null;
  private readonly numOutputs: number;

  /**
   * @param model - a built Sequential or functional model.
   * @param layers - the layers (names or instances of `model`'s top-level graph) whose outputs to
   *   expose, e.g. the last hidden layer.
   * @throws GanpoError when a layer is unknown, has no single symbolic output (a shared layer
   *   called more than once), or is not connected to the model's inputs (nested models).
   */
  constructor(model: tfl.LayersModel, layers: string | tfl.layers.Layer | (string | tfl.layers.Layer)[]) {
    const where = 'LatentView';
    if (!(model instanceof tfl.LayersModel)) {
      throw argumentError(
        'INVALID_ARGUMENT',
        where,
        'model',
        'a tf.LayersModel (Sequential or functional)',
        typeof model,
      );
    }
    const list = Array.isArray(layers) ? layers : [layers];
    if (list.length === 0) {
      throw argumentError(
        'INVALID_ARGUMENT',
        where,
        'layers',
        'at least one layer name or instance',
        'an empty list',
      );
    }
    const symbolic: tfl.SymbolicTensor[] = [];
    this.layerNames = [];
    for (const entry of list) {
      let layer: tfl.layers.Layer;
      if (typeof entry === 'string') {
        try {
          layer = model.getLayer(entry);
        } catch {
          throw argumentError(
            'INVALID_ARGUMENT',
            where,
            'layers',
            `names of top-level layers of the model (${model.layers.map((l) => l.name).join(', ')})`,
            `'${entry}'`,
          );
        }
      } else {
        layer = entry;
      }
      let out: tfl.SymbolicTensor | tfl.SymbolicTensor[];
      try {
        out = layer.output;
      } catch (e) {
        throw argumentError(
          'INVALID_ARGUMENT',
          where,
          'layers',
          'a layer with exactly one symbolic output (called once in the graph)',
          `'${layer.name}' (${(e as Error).message})`,
        );
      }
      for (const o of Array.isArray(out) ? out : [out]) symbolic.push(o);
      this.layerNames.push(layer.name);
    }
    const outputs = model.outputs;
    try {
      this.view = tfl.model({ inputs: model.inputs, outputs: [...outputs, ...symbolic] });
    } catch (e) {
      throw new GanpoError(
        'INVALID_ARGUMENT',
        `${where}: 'layers' expected layers of the model's own graph, received ${this.layerNames
          .map((n) => `'${n}'`)
          .join(', ')} that cannot be reached from the model's inputs (${(e as Error).message}); ` +
          'for layers inside nested models or custom layers use LayerOutputHook',
        {
          argument: 'layers',
          expected: "layers of the model's own graph",
          received: this.layerNames.join(', '),
        },
      );
    }
    this.model = model;
    this.numOutputs = outputs.length;
  }

  /**
   * One forward pass. `training` defaults to **true** (dropout on), since the view exists for
   * training steps; pass `{ training: false }` for evaluation.
   */
  apply(inputs: tf.Tensor | tf.Tensor[], options: { training?: boolean } = {}): LatentViewOutput {
    if (this.view === null) {
      throw new GanpoError(
        'DISPOSED',
        "LatentView.apply: 'this' expected a live view, received a disposed one",
        {
          argument: 'this',
        },
      );
    }
    const res = this.view.apply(inputs, { training: options.training ?? true }) as tf.Tensor | tf.Tensor[];
    const all = Array.isArray(res) ? res : [res];
    return { outputs: all.slice(0, this.numOutputs), latents: all.slice(this.numOutputs) };
  }

  /** Drops the view. Never disposes any weight: the user's model keeps working. */
  dispose(): void {
    this.view = null;
  }
}
