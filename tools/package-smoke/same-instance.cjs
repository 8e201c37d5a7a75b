// Run from a consumer project that has the packed ganpo and the tfjs peers installed.
// `ganpo` and `ganpo/node` must be one library instance under `require`: the same classes, one
// validation level, a regularizer from one entry accepted by the other's functions.
const tf = require('@tensorflow/tfjs-core');
require('@tensorflow/tfjs-backend-cpu');
const main = require('ganpo');
const node = require('ganpo/node');
require('./same-instance-checks.cjs')(tf, main, node, 'CJS').catch((e) => {
  console.error(e);
  process.exit(1);
});
