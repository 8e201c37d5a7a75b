import * as tf from '@tensorflow/tfjs-core';
import { GanpoRegularizer, ganpoLoss, TransformerDiscriminator } from 'ganpo';
import { afterEach, describe, expect, it, vi } from 'vitest';

import { resetCriticSizeNotice } from '../src/regularizer/notices';
import { expectGanpoError } from './support/helpers';
import { randomLatentBatch } from './support/latents';

// What a user is told when something is off: argument names they passed, advice that names the
// right fix, and one-time notices for silent mismatches.
const H = 4;
const live: { dispose: () => unknown }[] = [];
afterEach(() => {
  for (const d of live.splice(0)) d.dispose();
  vi.restoreAllMocks();
});

function stepped(masks: boolean) {
  // The official preset ('ema'): the reference latents take no part in the policy term.
  const regularizer = new GanpoRegularizer({
    latentDim: H,
    critic: { kind: 'mlp' },
    seed: 1,
    preset: 'official',
  });
  const latents = randomLatentBatch({ batch: 2, time: 3, width: H });
  const mask = tf.tensor2d([
    [1, 1, 0],
    [1, 1, 1],
  ]);
  live.push(regularizer, ...Object.values(latents), mask);
  regularizer.discriminatorStep({
    ...latents,
    ...(masks ? { chosenMask: mask as tf.Tensor2D, rejectedMask: mask as tf.Tensor2D } : {}),
  });
  return { regularizer, ...latents, mask: mask as tf.Tensor2D };
}

describe('ganpoLoss errors name its own arguments', () => {
  it('a bad policyChosenLatents is reported as policyChosenLatents by ganpoLoss', () => {
    const { regularizer, policyChosenLatents: _, ...references } = stepped(false);
    const preference = tf.scalar(0.3);
    const flat = tf.zeros([2, H]);
    live.push(preference, flat);
    const err = expectGanpoError(
      () =>
        ganpoLoss({
          regularizer,
          preference,
          ...references,
          policyChosenLatents: flat as unknown as tf.Tensor3D,
        }),
      'SHAPE_MISMATCH',
      'policyChosenLatents',
    );
    expect(err.message.startsWith('ganpoLoss:')).toBe(true);
    expect(err.message).toContain("'policyChosenLatents'");
  });

  it('a wrong width names policyRejectedLatents', () => {
    const { regularizer, policyRejectedLatents: _, ...references } = stepped(false);
    const preference = tf.scalar(0.3);
    const wide = tf.zeros([2, 3, H + 1]) as tf.Tensor3D;
    live.push(preference, wide);
    expectGanpoError(
      () =>
        ganpoLoss({
          regularizer,
          preference,
          ...references,
          policyRejectedLatents: wide,
        }),
      'SHAPE_MISMATCH',
      'policyRejectedLatents',
    );
  });
});

describe('masks in discriminatorStep but not in ganpoLoss (or the reverse) warn once', () => {
  const run = (stepMasks: boolean, lossMasks: boolean, times = 2): number => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const { regularizer, mask, ...latents } = stepped(stepMasks);
    const preference = tf.scalar(0.3);
    live.push(preference);
    for (let i = 0; i < times; i++) {
      const out = ganpoLoss({
        regularizer,
        preference,
        ...latents,
        ...(lossMasks ? { chosenMask: mask, rejectedMask: mask } : {}),
      });
      tf.dispose([out.loss, out.preferenceLoss, out.regularizerLoss]);
    }
    const calls = warn.mock.calls.filter((c) => String(c[0]).includes('chosenMask/rejectedMask'));
    warn.mockRestore();
    return calls.length;
  };

  it('step with masks, loss without: one warning over two calls', () => {
    expect(run(true, false)).toBe(1);
  });
  it('step without masks, loss with: one warning', () => {
    expect(run(false, true)).toBe(1);
  });
  it('the same masks on both: no warning', () => {
    expect(run(true, true)).toBe(0);
    expect(run(false, false)).toBe(0);
  });
});

describe('critic size notice (GanpoRegularizer.create)', () => {
  const notices = (make: () => GanpoRegularizer[]): string[] => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    for (const r of make()) r.dispose();
    const out = warn.mock.calls.map((c) => String(c[0])).filter((m) => m.includes('critic'));
    warn.mockRestore();
    return out;
  };

  it('warns once when the default official critic meets narrow latents, naming the small settings', () => {
    resetCriticSizeNotice();
    const got = notices(() => [
      new GanpoRegularizer({ latentDim: 24, critic: { maxSeqLen: 16 } }),
      new GanpoRegularizer({ latentDim: 24, critic: { maxSeqLen: 16 } }),
    ]);
    expect(got.length).toBe(1);
    expect(got[0]).toContain('width 512');
    expect(got[0]).toContain("kind: 'mlp'");
    expect(got[0]).toContain('hiddenDim: 48');
  });

  it('stays quiet for an explicit width, an MLP critic, or latents of 128 and more', () => {
    resetCriticSizeNotice();
    const got = notices(() => [
      new GanpoRegularizer({ latentDim: 24, critic: { hiddenDim: 512, maxSeqLen: 16 } }),
      new GanpoRegularizer({ latentDim: 24, critic: { kind: 'mlp' } }),
      new GanpoRegularizer({ latentDim: 128, critic: { maxSeqLen: 16 } }),
    ]);
    expect(got).toEqual([]);
  });
});

describe.runIf(process.env.GANPO_BACKEND !== 'tensorflow')(
  "TransformerDiscriminator.load('file://…')",
  () => {
    it('without a file router, names the fix: registerFileSystemRouter() or fileSystemHandler(dir)', async () => {
      let caught: unknown;
      try {
        await TransformerDiscriminator.load('file:///nonexistent/ganpo-disc');
      } catch (e) {
        caught = e;
      }
      const err = caught as { code?: string; message: string };
      expect(err.code).toBe('INVALID_ARGUMENT');
      expect(err.message).toContain('registerFileSystemRouter()');
      expect(err.message).toContain('fileSystemHandler(dir)');
    });
  },
);
