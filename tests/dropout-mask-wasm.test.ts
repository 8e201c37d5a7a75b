import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { CounterStream, dropoutMask, withUniformSource } from '../src/ops/dropout';
import { kernelFlags } from '../src/ops/kernel-flags';
import { wasmDropoutMaskAvailable } from '../src/ops/wasm/dropout-mask-kernel';
import { expectNoLeak } from './support/helpers';

// The wasm SIMD dropout-mask kernel against the stream drawn in JS on the cpu backend: the same
// masks (exactly), and the stream advanced by the same number of draws.
const onWasm = tf.getBackend() === 'wasm';

function draw(
  seed: number,
  counter: number,
  shapes: number[][],
  rate: number,
): { masks: number[][]; counter: number } {
  const stream = new CounterStream(seed, counter);
  const masks = withUniformSource(stream.next, () =>
    shapes.map((shape) => {
      const m = dropoutMask(shape, rate);
      const values = Array.from(m.dataSync());
      m.dispose();
      return values;
    }),
  );
  return { masks, counter: stream.counter };
}

describe.skipIf(!onWasm)('wasm dropout-mask kernel', () => {
  it.each([
    [12345, 0, 0.1],
    [7, 2 ** 32 - 6, 0.5], // crosses a 2³² block of counters inside the first mask
    [2 ** 32 - 1, 3, 0.999_999],
    [0, 17, 0.3],
  ])(
    'draws what the JS stream draws on the cpu backend (seed %i, counter %i, rate %f)',
    async (seed, counter, rate) => {
      expect(wasmDropoutMaskAvailable()).toBe(true);
      expect(kernelFlags.wasmDropoutMask).toBe(true);
      const shapes = [[7], [3, 5], [16, 4, 19, 19], [1], [2, 2]];
      const got = draw(seed, counter, shapes, rate);
      await tf.setBackend('cpu');
      try {
        const want = draw(seed, counter, shapes, rate);
        expect(got.counter).toBe(want.counter);
        for (const [i, m] of got.masks.entries()) expect(m).toEqual(want.masks[i]);
      } finally {
        await tf.setBackend('wasm');
      }
    },
  );

  it('draws what the JS path draws on wasm (lever off)', () => {
    const on = draw(99, 5, [[9, 13]], 0.2);
    kernelFlags.wasmDropoutMask = false;
    try {
      expect(draw(99, 5, [[9, 13]], 0.2)).toEqual(on);
    } finally {
      kernelFlags.wasmDropoutMask = true;
    }
  });

  it('leaves no tensor behind', async () => {
    const stream = new CounterStream(1);
    await expectNoLeak(() => withUniformSource(stream.next, () => dropoutMask([5, 3], 0.1).dispose()));
  });
});
