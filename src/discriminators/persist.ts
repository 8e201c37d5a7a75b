import * as tf from '@tensorflow/tfjs-core';
import { GanpoError } from '../core/errors';

/** Format tag written into `modelTopology` by `save()`. */
export const DISCRIMINATOR_FORMAT = 'ganpo-discriminator';

/** Where `save` / `load` go: any `tf.io.IOHandler`, or a URL a registered tf.io router understands. */
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
  const handler = resolve(where, target, 'save');
  try {
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

/** Reads artifacts written by {@link saveArtifacts}; the caller owns the returned tensors. */
export async function loadArtifacts(
  where: string,
  target: HandlerOrUrl,
  className: string,
): Promise<{ config: Record<string, unknown>; state: Record<string, tf.Tensor> }> {
  const handler = resolve(where, target, 'load');
  const load = handler.load as () => Promise<tf.io.ModelArtifacts>;
  const art = await load.call(handler);
  const topo = art.modelTopology as {
    format?: string;
    className?: string;
    config?: Record<string, unknown>;
  } | null;
  if (!topo || topo.format !== DISCRIMINATOR_FORMAT || topo.className !== className || !topo.config) {
    throw new GanpoError(
      'INVALID_FORMAT',
      `${where}: 'handlerOrUrl' expected a saved ${className}, received topology ${JSON.stringify(topo)?.slice(0, 120)}`,
      { argument: 'handlerOrUrl', expected: `a saved ${className}`, received: 'another artifact' },
    );
  }
  if (!art.weightSpecs || !art.weightData) {
    throw new GanpoError('INVALID_FORMAT', `${where}: 'handlerOrUrl' expected weights, received none`, {
      argument: 'handlerOrUrl',
      expected: 'weights',
      received: 'none',
    });
  }
  const data = Array.isArray(art.weightData)
    ? tf.io.CompositeArrayBuffer.join(art.weightData)
    : art.weightData;
  const state = tf.io.decodeWeights(data, art.weightSpecs) as Record<string, tf.Tensor>;
  return { config: topo.config, state };
}
