import * as tf from '@tensorflow/tfjs-core';
import { argumentError } from '../core/errors';
import { readSafetensors, writeSafetensors } from '../io/safetensors';
import { type ReferenceEntry, validateReferenceCache } from './reference';

const WHERE_WRITE = 'referenceCacheToBytes';
const WHERE_READ = 'referenceCacheFromBytes';

/**
 * Serialises a reference cache from {@link GanpoTrainer.precomputeReference} as one safetensors
 * file, so the reference model need not be run (or kept in memory) again: write the bytes to disk
 * (`fs.writeFileSync`) and read them back with {@link referenceCacheFromBytes}.
 *
 * Layout: `logps` F32 [N,2] (chosen, rejected), `lengths` I32 [N,2], and per pair with latents
 * `latents.{i}.chosen` / `latents.{i}.rejected` F32 [L,H]. Values round-trip exactly.
 *
 * @example
 * ```ts
 * const cache = trainer.precomputeReference(pairs);
 * writeFileSync('reference.safetensors', referenceCacheToBytes(cache));
 * trainer.setReferenceCache(referenceCacheFromBytes(readFileSync('reference.safetensors')));
 * ```
 */
export function referenceCacheToBytes(entries: readonly ReferenceEntry[]): Uint8Array {
  if (!Array.isArray(entries) || entries.length === 0) {
    throw argumentError(
      'INVALID_ARGUMENT',
      WHERE_WRITE,
      'entries',
      'a non-empty ReferenceEntry[]',
      Array.isArray(entries) ? 'an empty array' : typeof entries,
    );
  }
  // Entries, log-probs and lengths as setReferenceCache checks them (a null entry was a raw
  // TypeError); the latents' widths are checked below.
  validateReferenceCache(WHERE_WRITE, entries, { latentDim: 0, withLatents: false });
  const tensors: Record<string, tf.Tensor> = {};
  try {
    tensors.logps = tf.tensor2d(
      entries.flatMap((e) => [e.chosenLogp, e.rejectedLogp]),
      [entries.length, 2],
      'float32',
    );
    tensors.lengths = tf.tensor2d(
      entries.flatMap((e) => [e.chosenLength, e.rejectedLength]),
      [entries.length, 2],
      'int32',
    );
    entries.forEach((e, i) => {
      if (!e.chosenLatents || !e.rejectedLatents) return;
      const h = e.chosenLatents.length / Math.max(e.chosenLength, 1);
      if (!Number.isInteger(h) || e.rejectedLatents.length !== h * e.rejectedLength) {
        throw argumentError(
          'SHAPE_MISMATCH',
          WHERE_WRITE,
          `entries[${i}]`,
          'latents of length × hidden size on both sides',
          `${e.chosenLatents.length} and ${e.rejectedLatents.length} values for lengths ${e.chosenLength}, ${e.rejectedLength}`,
        );
      }
      tensors[`latents.${i}.chosen`] = tf.tensor2d(e.chosenLatents, [e.chosenLength, h]);
      tensors[`latents.${i}.rejected`] = tf.tensor2d(e.rejectedLatents, [e.rejectedLength, h]);
    });
    return writeSafetensors(tensors, { format: 'ganpo-reference-cache', version: '1' });
  } finally {
    tf.dispose(Object.values(tensors));
  }
}

/**
 * Reads what {@link referenceCacheToBytes} wrote, from any `Uint8Array` view (a Node `Buffer` from
 * `fs.readFileSync` too) or `ArrayBuffer`. The file is untrusted: besides the safetensors checks,
 * lengths must be int32 ≥ 0, latents come in [length, H] pairs with one H, and no other tensor may
 * appear. Pass the result to `GanpoTrainer.setReferenceCache`, which checks H against `latentDim`.
 *
 * @throws GanpoError('INVALID_FORMAT') on other files.
 */
export function referenceCacheFromBytes(bytes: Uint8Array | ArrayBuffer): ReferenceEntry[] {
  const tensors = readSafetensors(bytes);
  try {
    const logps = tensors.logps;
    const lengths = tensors.lengths;
    if (
      !logps ||
      !lengths ||
      logps.rank !== 2 ||
      logps.shape[1] !== 2 ||
      !tf.util.arraysEqual(logps.shape, lengths.shape)
    ) {
      throw argumentError(
        'INVALID_FORMAT',
        WHERE_READ,
        'bytes',
        'a reference cache (logps [N,2], lengths [N,2])',
        `tensors ${Object.keys(tensors).join(', ') || 'none'}`,
      );
    }
    const lp = logps.dataSync();
    const len = lengths.dataSync();
    const n = logps.shape[0] as number;
    const known = new Set(['logps', 'lengths']);
    for (let i = 0; i < n; i++) known.add(`latents.${i}.chosen`).add(`latents.${i}.rejected`);
    const unknown = Object.keys(tensors).find((k) => !known.has(k));
    if (unknown !== undefined || lengths.dtype !== 'int32' || len.some((x) => x < 0)) {
      throw argumentError(
        'INVALID_FORMAT',
        WHERE_READ,
        'bytes',
        'a reference cache (int32 lengths >= 0, latents.{i}.chosen|rejected for i < N)',
        unknown !== undefined ? `tensor '${unknown.slice(0, 40)}'` : 'bad lengths',
      );
    }
    const out: ReferenceEntry[] = [];
    for (let i = 0; i < n; i++) {
      const c = tensors[`latents.${i}.chosen`];
      const r = tensors[`latents.${i}.rejected`];
      const rows = [len[2 * i], len[2 * i + 1]];
      if (
        (c === undefined) !== (r === undefined) ||
        (c &&
          r &&
          (c.rank !== 2 ||
            r.rank !== 2 ||
            c.shape[0] !== rows[0] ||
            r.shape[0] !== rows[1] ||
            c.shape[1] !== r.shape[1]))
      ) {
        throw argumentError(
          'INVALID_FORMAT',
          WHERE_READ,
          `latents.${i}`,
          `chosen [${rows[0]},H] and rejected [${rows[1]},H]`,
          `${c ? `[${c.shape}]` : 'none'} and ${r ? `[${r.shape}]` : 'none'}`,
        );
      }
      out.push({
        chosenLogp: lp[2 * i] as number,
        rejectedLogp: lp[2 * i + 1] as number,
        chosenLength: len[2 * i] as number,
        rejectedLength: len[2 * i + 1] as number,
        ...(c && r
          ? { chosenLatents: new Float32Array(c.dataSync()), rejectedLatents: new Float32Array(r.dataSync()) }
          : {}),
      });
    }
    return out;
  } finally {
    tf.dispose(Object.values(tensors));
  }
}
