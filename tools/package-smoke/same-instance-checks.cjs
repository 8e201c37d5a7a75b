// Shared checks: every export of the main entry is the identical object in the node entry, errors
// thrown through one are `instanceof` the other's GanpoError, the validation level is shared, and a
// GanpoRegularizer created by one entry trains through the other's ganpoLoss without leaking.
const assert = require('node:assert/strict');

module.exports = async function check(tf, main, node, label) {
  await tf.setBackend('cpu');
  const keys = Object.keys(main).filter((k) => k !== 'default' && k !== '__esModule');
  assert.ok(keys.length > 50, `${label}: only ${keys.length} exports in 'ganpo'`);
  for (const k of keys)
    assert.equal(node[k], main[k], `${label}: '${k}' differs between ganpo and ganpo/node`);

  let thrown;
  try {
    node.setValidationLevel('nope');
  } catch (e) {
    thrown = e;
  }
  assert.ok(thrown instanceof main.GanpoError, `${label}: error from ganpo/node is not a ganpo GanpoError`);

  const previous = main.setValidationLevel('shapes');
  assert.equal(node.getValidationLevel(), 'shapes', `${label}: validation level is not shared`);
  main.setValidationLevel(previous);

  const start = tf.memory().numTensors;
  const regularizer = new node.GanpoRegularizer({ latentDim: 4, critic: { kind: 'mlp' }, seed: 1 });
  const latents = (seed) => tf.randomNormal([2, 3, 4], 0, 1, 'float32', seed);
  const [pc, pr, rc, rr] = [1, 2, 3, 4].map(latents);
  regularizer.discriminatorStep({
    policyChosenLatents: pc,
    policyRejectedLatents: pr,
    referenceChosenLatents: rc,
    referenceRejectedLatents: rr,
  });
  const preference = tf.scalar(0.5);
  const out = main.ganpoLoss({
    regularizer,
    preference,
    policyChosenLatents: pc,
    policyRejectedLatents: pr,
    referenceChosenLatents: rc,
    referenceRejectedLatents: rr,
  });
  assert.ok(Number.isFinite(out.loss.dataSync()[0]), `${label}: ganpoLoss is not finite`);
  tf.dispose([out.loss, out.preferenceLoss, out.regularizerLoss, preference, pc, pr, rc, rr]);
  regularizer.dispose();
  assert.equal(tf.memory().numTensors, start, `${label}: tensors left behind`);
  console.log(`${label}: ganpo and ganpo/node are one instance (${keys.length} exports identical) ok`);
};
