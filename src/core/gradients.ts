// tfjs-core registers no gradient functions on its own; importing tfjs-layers (a peer dependency
// of ganpo) registers all of them. Every ganpo module that differentiates imports this file, so a
// user who loads only tfjs-core + a backend still gets working gradients (TFJS_NOTES: "With
// @tensorflow/tfjs-core alone, no gradients are registered").
import '@tensorflow/tfjs-layers';
