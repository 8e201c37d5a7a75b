// tfjs-core alone registers no gradient functions; importing tfjs-layers (a peer dependency of
// ganpo) registers all of them. The import is a named one, used by `versions`, because ganpo is
// `sideEffects: false`: bundlers (and our own tsup build) drop bare imports of side-effect-free modules.
import { version_layers } from '@tensorflow/tfjs-layers';

/** The tfjs-layers version whose import registered tfjs's gradient functions. */
export const tfjsLayersVersion: string = version_layers;
