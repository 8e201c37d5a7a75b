// The regularizer's "adversarial term dominates" warning in a hand-written loop: ganpoLoss records
// the two losses without reading them back (it runs inside the policy's gradient tape) and the next
// discriminatorStep reads them, so a user's own loop gets the warning with no extra call, through
// the library's single log channel (setLogger).
import * as tf from '@tensorflow/tfjs-core';
import { GanpoRegularizer, ganpoLoss, setLogger, withValidationLevel } from 'ganpo';
import { afterEach, describe, expect, it } from 'vitest';

const B = 4;
const T = 3;
const H = 4;

function batch(shift: tf.Tensor) {
  const base = tf.randomNormal([B, T, H], 0, 1, 'float32', 1) as tf.Tensor3D;
  const other = tf.randomNormal([B, T, H], 0, 1, 'float32', 2) as tf.Tensor3D;
  return {
    policyChosenLatents: tf.add(base, shift) as tf.Tensor3D,
    policyRejectedLatents: tf.add(other, shift) as tf.Tensor3D,
    referenceChosenLatents: base,
    referenceRejectedLatents: other,
  };
}

describe('warnings in a hand-written loop', () => {
  let restore: ReturnType<typeof setLogger> | undefined;
  afterEach(() => {
    if (restore !== undefined) setLogger(restore);
  });

  it('warns that the adversarial term dominates from ganpoLoss + discriminatorStep alone, reading nothing inside the tape', () => {
    const lines: [string, string][] = [];
    restore = setLogger((message, level) => lines.push([level, message]));
    // λ = 20 with the official one-sided term (≈ log 2 per side): λ·L_adv far above a flat preference loss.
    const reg = new GanpoRegularizer({
      latentDim: H,
      preset: 'official',
      weight: 20,
      critic: { kind: 'mlp', hiddenDims: [8] },
      seed: 0,
    });
    const shift = tf.variable(tf.scalar(0.1), true, 'own-loop-shift');
    let before = 0;
    let syncsInTape = 0;
    const dataSync = tf.Tensor.prototype.dataSync;
    for (let step = 0; step < 55; step++) {
      const constants = tf.tidy(() => batch(shift));
      reg.discriminatorStep(constants);
      tf.dispose(constants);
      // The policy step: a preference loss that does not fall, plus λ·L_adv, inside the tape.
      tf.Tensor.prototype.dataSync = function (this: tf.Tensor) {
        syncsInTape++;
        return dataSync.call(this);
      } as typeof dataSync;
      try {
        const { value, grads } = withValidationLevel('shapes', () =>
          tf.variableGrads(() => {
            const latents = batch(shift);
            return ganpoLoss({ regularizer: reg, preference: tf.scalar(0.69), ...latents }).loss;
          }, [shift]),
        );
        tf.dispose([value, ...Object.values(grads)]);
      } finally {
        tf.Tensor.prototype.dataSync = dataSync;
      }
      // Optimizer slots exist after the first step; from then on each step leaves nothing behind.
      if (step === 0) before = tf.memory().numTensors;
    }
    expect(syncsInTape).toBe(0);
    const warnings = lines.filter(
      ([level, m]) => level === 'warn' && m.includes('adversarial term dominates'),
    );
    expect(warnings).toHaveLength(1);
    // One pair of losses is held between a policy step and the next discriminator step, then freed.
    expect(tf.memory().numTensors).toBe(before);
    const held = tf.memory().numTensors;
    reg.dispose();
    expect(tf.memory().numTensors).toBeLessThan(held);
    shift.dispose();
  });
});
