import * as tf from '@tensorflow/tfjs-core';
import { tfjsLayersVersion } from './core/gradients';

/**
 * Versions of ganpo and of the tfjs packages it runs with — include them in bug reports. Importing
 * ganpo's entry point also guarantees tfjs's gradients are registered (see src/core/gradients.ts).
 */
export const versions: Readonly<{ ganpo: string; tfjsCore: string; tfjsLayers: string }> = Object.freeze({
  ganpo: '0.1.0',
  tfjsCore: tf.version_core,
  tfjsLayers: tfjsLayersVersion,
});
