import * as tf from '@tensorflow/tfjs-core';
import { tfjsLayersVersion } from './core/gradients';

/**
 * The package version, replaced at build time from package.json (tsup, vitest and the browser
 * example's Vite config `define` it), so the version lives in one place. Sources run unbundled
 * (`node --import tsx`) see `'0.0.0-dev'`.
 */
declare const __GANPO_VERSION__: string | undefined;

/**
 * Versions of ganpo and of the tfjs packages it runs with — include them in bug reports. Importing
 * ganpo's entry point also guarantees tfjs's gradients are registered (see src/core/gradients.ts).
 */
export const versions: Readonly<{ ganpo: string; tfjsCore: string; tfjsLayers: string }> = Object.freeze({
  ganpo: typeof __GANPO_VERSION__ === 'string' ? __GANPO_VERSION__ : '0.0.0-dev',
  tfjsCore: tf.version_core,
  tfjsLayers: tfjsLayersVersion,
});
