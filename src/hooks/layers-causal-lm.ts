import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { disposeCreatedOnThrow } from '../core/engine-guards';
import { argumentError, GanpoError } from '../core/errors';
import type { CausalLM } from '../core/types';
import { registerWasmTrainingKernels } from '../ops/wasm-training-kernels';
import { findLayer } from './find-layer';
import { LatentView } from './latent-view';
import { LayerOutputHook } from './layer-output-hook';

/** Options of {@link causalLMFromLayersModel}. @inline */
export interface CausalLMFromLayersModelOptions {
  /**
   * The layer whose output [B,T,H] is the hidden state given to the GANPO discriminators (the
   * official code uses the last hidden state, i.e. the input of the vocabulary projection): a layer
   * name — found anywhere in the model, also inside nested models (see {@link findLayer}) — or the
   * layer instance itself (e.g. a custom layer's private sub-layer).
   */
  hiddenLayer: string | tfl.layers.Layer;
}

/** The {@link CausalLM} that {@link causalLMFromLayersModel} returns. */
export interface LayersCausalLM extends CausalLM {
  /** The wrapped model (the user's, or the adapter's own after `clone()`). */
  readonly model: tfl.LayersModel;
  /** The layer whose output is `forward(...).hidden`. */
  readonly hiddenLayer: tfl.layers.Layer;
  /** H, the last dimension of the hidden layer's output, or null when the model is not built yet. */
  readonly latentDim: number | null;
  /**
   * A deep copy (same architecture from `model.getConfig()`, same weight values, its own variables),
   * for `model.reference: 'copy'`. Every layer class must be registered with
   * `tf.serialization.registerClass`.
   */
  clone(): LayersCausalLM;
  /**
   * Ends the adapter (later `forward` calls throw). Disposes the model's weights only when this
   * adapter made the model (a `clone()`), never the model you passed in.
   */
  dispose(): void;
}

const WHERE = 'causalLMFromLayersModel';

/** The name of an output layer that applies softmax (also at the end of a nested model), or null. */
function softmaxOutput(model: tfl.LayersModel): string | null {
  for (const out of model.outputs ?? []) {
    const layer = out.sourceLayer as tfl.layers.Layer;
    if (layer instanceof tfl.LayersModel) {
      const inner = softmaxOutput(layer);
      if (inner !== null) return inner;
      continue;
    }
    const activation = (layer.getConfig() as { activation?: unknown }).activation;
    if (activation === 'softmax' || layer.getClassName() === 'Softmax') return layer.name;
  }
  return null;
}

function outputDim(layer: tfl.layers.Layer): number | null {
  try {
    const shape = layer.outputShape as (number | null)[];
    const last = shape[shape.length - 1];
    return typeof last === 'number' ? last : null;
  } catch {
    return null;
  }
}

/**
 * Wraps a tfjs-layers causal LM (`LayersModel` ids [B,T] → logits [B,T,V]) as a {@link CausalLM}
 * for {@link GanpoTrainer} or your own loop: `forward(ids, { training })` runs the model once and
 * returns its logits and the output of `hiddenLayer` from that same pass, so gradients of a latent
 * loss reach the model's weights; `trainableVariables` are the model's trainable weights.
 *
 * The hidden state is read through a weight-sharing multi-output view ({@link LatentView}) when
 * `hiddenLayer` is in the model's top-level graph, else through a call hook on that layer installed
 * for the duration of each forward ({@link LayerOutputHook}: nested models, custom layers'
 * sub-layers, unbuilt Sequentials). Neither changes what the model computes or its weights.
 *
 * The model must output logits (no softmax on the vocabulary layer: log-probs are computed from
 * logits with a stable log-softmax). Models with several outputs: the first is taken as the logits.
 * Layer regularizers (`kernelRegularizer`) are not added to the loss.
 *
 * @param model - a Sequential or functional model whose first output is the logits [B,T,V].
 * @param options - `hiddenLayer`, the layer whose output [B,T,H] is the latent.
 * @throws GanpoError INVALID_ARGUMENT when `model` is not a LayersModel, outputs probabilities
 *   (softmax), or has no such layer.
 * @example
 * ```ts
 * const lm = causalLMFromLayersModel(model, { hiddenLayer: 'final_norm' });
 * const trainer = new GanpoTrainer({ model: { policy: lm, reference: 'initial', latentDim: lm.latentDim! }, ... });
 * ```
 */
export function causalLMFromLayersModel(
  model: tfl.LayersModel,
  options: CausalLMFromLayersModelOptions,
): LayersCausalLM {
  // The gradient of tf.layers.embedding on wasm needs a kernel tfjs-backend-wasm lacks.
  registerWasmTrainingKernels();
  return makeAdapter(model, options, false);
}

function makeAdapter(
  model: tfl.LayersModel,
  options: CausalLMFromLayersModelOptions,
  ownsModel: boolean,
): LayersCausalLM {
  if (!(model instanceof tfl.LayersModel)) {
    throw argumentError(
      'INVALID_ARGUMENT',
      WHERE,
      'model',
      'a tf.LayersModel (Sequential or functional)',
      typeof model,
    );
  }
  if (options === null || typeof options !== 'object') {
    throw argumentError('INVALID_ARGUMENT', WHERE, 'options', '{ hiddenLayer }', String(options));
  }
  const spec = options.hiddenLayer;
  let layer: tfl.layers.Layer;
  if (typeof spec === 'string') {
    layer = findLayer(model, spec);
  } else if (spec instanceof tfl.layers.Layer) {
    layer = spec;
  } else {
    throw argumentError(
      'INVALID_ARGUMENT',
      WHERE,
      'options.hiddenLayer',
      'a layer name or a tf.layers.Layer',
      typeof spec,
    );
  }
  const softmax = softmaxOutput(model);
  if (softmax !== null) {
    throw argumentError(
      'INVALID_ARGUMENT',
      WHERE,
      'model',
      "a model whose output is logits (build the vocabulary layer with activation 'linear'; log-probs are taken from logits with a stable log-softmax)",
      `a model whose output layer '${softmax}' applies softmax`,
    );
  }
  let view: LatentView | null = null;
  try {
    view = new LatentView(model, layer);
  } catch (e) {
    // Not in the top-level graph (nested model, private sub-layer, unbuilt Sequential): hook instead.
    if (!(e instanceof GanpoError)) throw e;
  }
  let disposed = false;

  const forward = (
    inputIds: tf.Tensor2D,
    { training }: { training: boolean },
  ): { logits: tf.Tensor3D; hidden: tf.Tensor3D } => {
    if (disposed) {
      throw argumentError('DISPOSED', 'LayersCausalLM.forward', 'this', 'a live adapter', 'a disposed one');
    }
    let logits: tf.Tensor;
    let hidden: tf.Tensor;
    if (view) {
      const out = view.apply(inputIds, { training });
      logits = out.outputs[0] as tf.Tensor;
      hidden = out.latents[0] as tf.Tensor;
      tf.dispose(out.outputs.slice(1));
    } else {
      // Hooked for this pass only, so the model's other uses (predict, generation) capture nothing.
      const h = new LayerOutputHook(layer);
      try {
        const out = model.apply(inputIds, { training }) as tf.Tensor | tf.Tensor[];
        const outs = Array.isArray(out) ? out : [out];
        logits = outs[0] as tf.Tensor;
        tf.dispose(outs.slice(1));
        const captured = h.last;
        if (captured === undefined) {
          tf.dispose(logits);
          throw argumentError(
            'INVALID_STATE',
            'LayersCausalLM.forward',
            'hiddenLayer',
            "a layer that runs in the model's forward pass",
            `'${layer.name}', which did not run`,
          );
        }
        // A tensor of the caller's scope, recorded on the tape (gradients pass through the clone);
        // the hook's kept capture is released by remove().
        hidden = tf.clone(captured);
      } finally {
        h.remove();
      }
    }
    const [b, t] = inputIds.shape;
    const bad =
      logits.rank !== 3 || logits.shape[0] !== b || logits.shape[1] !== t
        ? { argument: 'model', x: logits, expected: `logits [B,T,V] = [${b},${t},V] as its first output` }
        : hidden.rank !== 3 || hidden.shape[0] !== b || hidden.shape[1] !== t
          ? { argument: 'hiddenLayer', x: hidden, expected: `an output [B,T,H] = [${b},${t},H]` }
          : null;
    if (bad) {
      tf.dispose([logits, hidden]);
      throw argumentError(
        'SHAPE_MISMATCH',
        'LayersCausalLM.forward',
        bad.argument,
        `${bad.expected} for inputIds [${b},${t}]`,
        `[${bad.x.shape.join(',')}]`,
      );
    }
    return { logits: logits as tf.Tensor3D, hidden: hidden as tf.Tensor3D };
  };

  return {
    model,
    hiddenLayer: layer,
    get latentDim() {
      return outputDim(layer);
    },
    get trainableVariables() {
      return model.trainableWeights.map((w) => w.read() as tf.Variable);
    },
    forward,
    clone(): LayersCausalLM {
      const where = 'LayersCausalLM.clone';
      // A rebuild that fails part-way (an unregistered custom layer) has built some layers' weights
      // already: the guard frees them with everything else made before the throw.
      return disposeCreatedOnThrow(() => {
        let copy: tfl.LayersModel;
        try {
          const cls = model.constructor as unknown as {
            fromConfig: (c: unknown, config: unknown) => tfl.LayersModel;
          };
          copy = cls.fromConfig(cls, model.getConfig());
        } catch (e) {
          throw new GanpoError(
            'INVALID_STATE',
            `${where}: cannot rebuild the model from its config (${(e as Error).message}); register custom layer classes with tf.serialization.registerClass, or use reference: 'initial' (a weight snapshot, no second model)`,
          );
        }
        try {
          const values = model.getWeights();
          copy.setWeights(values);
          const copyLayer = findLayer(copy, layer.name);
          return makeAdapter(copy, { hiddenLayer: copyLayer }, true);
        } catch (e) {
          if (e instanceof GanpoError) {
            throw new GanpoError(
              'INVALID_STATE',
              `${where}: the copy has no layer '${layer.name}' (${e.message}); use reference: 'initial'`,
            );
          }
          throw e;
        }
      });
    },
    dispose(): void {
      if (disposed) return;
      disposed = true;
      view?.dispose();
      if (ownsModel) model.dispose();
    },
  };
}
