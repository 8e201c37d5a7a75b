import * as tf from '@tensorflow/tfjs-core';
import { argumentError, GanpoError } from '../core/errors';
import { weightSpecsByteLength } from '../io/weight-specs';

/** Format tag written into `modelTopology` by `save()`. */
export const DISCRIMINATOR_FORMAT = 'ganpo-discriminator';

/** Where `save` / `load` go: any `tf.io.IOHandler`, or a URL a registered tf.io router understands. @inline */
export type HandlerOrUrl = tf.io.IOHandler | string;

function resolve(where: string, target: HandlerOrUrl, mode: 'save' | 'load'): tf.io.IOHandler {
  if (typeof target !== 'string') {
    if (target && typeof target === 'object' && typeof target[mode] === 'function') return target;
    throw new GanpoError(
      'INVALID_ARGUMENT',
      `${where}: 'handlerOrUrl' expected a tf.io.IOHandler with ${mode}()`,
      {
        argument: 'handlerOrUrl',
        expected: `a tf.io.IOHandler with ${mode}()`,
        received: typeof target,
      },
    );
  }
  const handlers = mode === 'save' ? tf.io.getSaveHandlers(target) : tf.io.getLoadHandlers(target);
  const h = handlers[0];
  if (!h) {
    throw new GanpoError(
      'INVALID_ARGUMENT',
      `${where}: 'handlerOrUrl' expected a URL with a registered tf.io handler (e.g. 'indexeddb://name'; for 'file://dir' in plain Node call registerFileSystemRouter() from 'ganpo/node' once, or pass fileSystemHandler(dir) from 'ganpo/node' instead of the URL), received '${target}'`,
      { argument: 'handlerOrUrl', expected: 'a URL with a registered tf.io handler', received: target },
    );
  }
  return h;
}

/** Writes `{ class, config }` as the topology and the PyTorch-named state dict as the weights. */
export async function saveArtifacts(
  where: string,
  target: HandlerOrUrl,
  className: string,
  config: object,
  state: Record<string, tf.Tensor>,
): Promise<tf.io.SaveResult> {
  try {
    // Inside the try: a target refused here must not strand the state tensors the caller made.
    const handler = resolve(where, target, 'save');
    const { data, specs } = await tf.io.encodeWeights(state);
    const save = handler.save as (a: tf.io.ModelArtifacts) => Promise<tf.io.SaveResult>;
    return await save.call(handler, {
      modelTopology: { format: DISCRIMINATOR_FORMAT, version: 1, className, config },
      format: DISCRIMINATOR_FORMAT,
      generatedBy: 'ganpo',
      weightSpecs: specs,
      weightData: data,
    });
  } finally {
    tf.dispose(Object.values(state));
  }
}

/**
 * Reads artifacts written by {@link saveArtifacts}, treating them as untrusted: the topology must be
 * this class's, `config` a plain object with only `allowedKeys`, and the weight specs float32/int32
 * tensors with unique names whose sizes add up to exactly the bytes present. Nothing is decoded
 * until the caller calls `decodeState` (after checking the config), and owns the tensors it returns.
 */
export async function loadArtifacts(
  where: string,
  target: HandlerOrUrl,
  className: string,
  allowedKeys: readonly string[],
): Promise<{ config: Record<string, unknown>; decodeState: () => Record<string, tf.Tensor> }> {
  const handler = resolve(where, target, 'load');
  const load = handler.load as () => Promise<tf.io.ModelArtifacts>;
  const art = await load.call(handler);
  if (art === null || typeof art !== 'object') {
    throw argumentError('INVALID_FORMAT', where, 'handlerOrUrl', 'model artifacts', String(art));
  }
  const topo = art.modelTopology as { format?: unknown; className?: unknown; config?: unknown } | null;
  if (
    !topo ||
    typeof topo !== 'object' ||
    topo.format !== DISCRIMINATOR_FORMAT ||
    topo.className !== className ||
    !isPlainObject(topo.config)
  ) {
    throw argumentError(
      'INVALID_FORMAT',
      where,
      'handlerOrUrl',
      `a saved ${className}`,
      `topology ${JSON.stringify(topo)?.slice(0, 120)}`,
    );
  }
  const config = topo.config as Record<string, unknown>;
  const extra = Object.keys(config).find((k) => !allowedKeys.includes(k));
  if (extra !== undefined) {
    throw argumentError(
      'INVALID_FORMAT',
      where,
      'config',
      `only the keys ${allowedKeys.join(', ')}`,
      `key '${extra.slice(0, 40)}'`,
    );
  }
  if (art.weightSpecs === undefined || art.weightData === undefined) {
    throw argumentError('INVALID_FORMAT', where, 'handlerOrUrl', 'weights', 'none');
  }
  const data = Array.isArray(art.weightData)
    ? tf.io.CompositeArrayBuffer.join(art.weightData)
    : art.weightData;
  if (!(data instanceof ArrayBuffer)) {
    throw argumentError('INVALID_FORMAT', where, 'weightData', 'an ArrayBuffer', typeof data);
  }
  const rules = { dtypes: ['float32', 'int32'], quantization: false };
  const need = weightSpecsByteLength(where, art.weightSpecs, data.byteLength, rules);
  if (need !== data.byteLength) {
    throw argumentError(
      'INVALID_FORMAT',
      where,
      'weightData',
      `${need} bytes for the weight specs`,
      `${data.byteLength} bytes`,
    );
  }
  const specs = art.weightSpecs;
  return { config: { ...config }, decodeState: () => decodeState(specs, data) };
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return x !== null && typeof x === 'object' && !Array.isArray(x);
}

/** Validated float32/int32 specs over exactly `data` → name → tensor (null prototype). */
function decodeState(
  specs: readonly tf.io.WeightsManifestEntry[],
  data: ArrayBuffer,
): Record<string, tf.Tensor> {
  const out: Record<string, tf.Tensor> = Object.create(null);
  let offset = 0;
  try {
    for (const spec of specs) {
      const n = spec.shape.reduce((a, b) => a * b, 1);
      const bytes = data.slice(offset, offset + 4 * n);
      offset += 4 * n;
      out[spec.name] =
        spec.dtype === 'int32'
          ? tf.tensor(new Int32Array(bytes), spec.shape, 'int32')
          : tf.tensor(new Float32Array(bytes), spec.shape, 'float32');
    }
  } catch (e) {
    tf.dispose(Object.values(out));
    throw e;
  }
  return out;
}
