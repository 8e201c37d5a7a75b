import * as tf from '@tensorflow/tfjs-layers';
import { argumentError } from '../core/errors';

function isContainer(layer: tf.layers.Layer): layer is tf.LayersModel {
  return layer instanceof tf.LayersModel;
}

/**
 * Finds a layer by name anywhere in a model, including inside nested models (a `LayersModel` used
 * as a layer, e.g. a Sequential inside a functional model). Depth-first, in layer order; the first
 * match wins. Custom layers that hold sub-layers privately are not searched (tfjs does not track
 * them): pass those instances to {@link LayerOutputHook} directly.
 *
 * @throws GanpoError (`INVALID_ARGUMENT`) when no layer has that name.
 *
 * @example
 * ```ts
 * const hook = new LayerOutputHook(findLayer(model, 'final_norm')); // also inside nested models
 * ```
 */
export function findLayer(model: tf.LayersModel, name: string): tf.layers.Layer {
  const where = 'findLayer';
  if (!(model instanceof tf.LayersModel)) {
    throw argumentError('INVALID_ARGUMENT', where, 'model', 'a tf.LayersModel', typeof model);
  }
  const visit = (m: tf.LayersModel): tf.layers.Layer | undefined => {
    for (const layer of m.layers) {
      if (layer.name === name) return layer;
      if (isContainer(layer)) {
        const found = visit(layer);
        if (found) return found;
      }
    }
    return undefined;
  };
  const found = visit(model);
  if (!found) {
    const names: string[] = [];
    const collect = (m: tf.LayersModel): void => {
      for (const l of m.layers) {
        names.push(l.name);
        if (isContainer(l)) collect(l);
      }
    };
    collect(model);
    throw argumentError(
      'INVALID_ARGUMENT',
      where,
      'name',
      `one of the model's layer names (${names.join(', ')})`,
      `'${name}'`,
    );
  }
  return found;
}
