import * as tf from '@tensorflow/tfjs-core';
import { argumentError } from '../core/errors';
import type { PreferencePair } from '../core/types';
import { assertNumber, assertObject, assertOneOf, checksValues } from '../core/validate';

export type { PreferencePair } from '../core/types';

/** How to truncate a prompt+response sequence longer than `maxLength` (TRL's `truncation_mode`). @inline */
export type TruncationMode = 'keep_end' | 'keep_start';

/**
 * Options of {@link collatePreferencePairs}. The defaults are those of TRL's `DPOConfig` (v0.28, the
 * last release with `max_prompt_length`), so the same data produces the same tensors.
 */
export interface CollateOptions {
  /** Id written into padded positions (their attention and completion masks are 0). Required. */
  padTokenId: number;
  /**
   * Appended to every chosen and rejected response before truncation, as TRL's `tokenize_row` does
   * for non-conversational data. `null` appends nothing (responses already end as they should).
   * Required: forgetting EOS teaches a model never to stop, so the choice must be explicit.
   */
  eosTokenId: number | null;
  /**
   * Prepended to every prompt before prompt truncation (TRL's `add_special_tokens=True` path; its
   * decoder-only default adds none). Default `null` (no BOS).
   */
  bosTokenId?: number | null;
  /**
   * Maximum number of tokens of a whole prompt+response sequence; longer sequences are cut
   * according to `truncationMode`. Default 1024 (TRL `max_length`); `null` = no limit.
   */
  maxLength?: number | null;
  /**
   * Maximum number of prompt tokens; longer prompts keep their **last** tokens (TRL keeps the end of
   * the prompt whatever `truncationMode` says). Applied before `maxLength`. Default 512 (TRL
   * `max_prompt_length`); `null` = no limit.
   */
  maxPromptLength?: number | null;
  /**
   * Maximum number of response tokens (EOS included); longer responses keep their **first** tokens.
   * Applied before `maxLength`. Default `null` (TRL `max_completion_length`).
   */
  maxCompletionLength?: number | null;
  /**
   * `'keep_end'` (default, TRL's default) keeps the last `maxLength` tokens of a too-long sequence
   * (the start of the prompt is lost); `'keep_start'` keeps the first `maxLength` (the end of the
   * response, EOS first, is lost, and a prompt that fills `maxLength` leaves no response token).
   */
  truncationMode?: TruncationMode;
  /** Round the padded length T up to a multiple of this (TRL `pad_to_multiple_of`). Default 1. */
  padToMultipleOf?: number;
  /** Dtype of `attentionMask` / `completionMask`. Default `'float32'`, ready to multiply log-probs. */
  maskDtype?: 'float32' | 'int32';
  /**
   * When given, every token id (and the special ids) must lie in `[0, vocabSize)`: an id beyond the
   * vocabulary would otherwise become an all-zero one-hot row and train silently on nothing.
   */
  vocabSize?: number;
}

/** One side (chosen or rejected) of a collated batch. Tensors belong to the caller. */
export interface CollatedSequences {
  /** [B,T] int32: prompt+response ids, right-padded with `padTokenId`. */
  inputIds: tf.Tensor2D;
  /** `[B,T]`: 1 on real tokens, 0 on padding. */
  attentionMask: tf.Tensor2D;
  /**
   * `[B,T]`: 1 on response tokens, in `inputIds` coordinates (TRL's `completion_mask`; shift it by one
   * against causal logits, as `causalLogProbs` does).
   */
  completionMask: tf.Tensor2D;
  /** [B] float32: number of response tokens kept after truncation (the row sums of `completionMask`). */
  completionLengths: tf.Tensor1D;
}

/** A collated batch of preference pairs. Both sides share the same padded length T. */
export interface PreferenceBatch {
  chosen: CollatedSequences;
  rejected: CollatedSequences;
  /** Number of pairs B. */
  batchSize: number;
  /** Padded length T, shared by chosen and rejected so that they can be concatenated into [2B,T]. */
  seqLength: number;
  /** Plain-number lengths after truncation, for logging and for the trainer's bookkeeping. */
  lengths: {
    /** Prompt tokens kept in the chosen sequence of each pair. */
    chosenPrompt: number[];
    /** Prompt tokens kept in the rejected sequence (differs from `chosenPrompt` only under `keep_end`). */
    rejectedPrompt: number[];
    /** Response tokens kept, chosen side. */
    chosen: number[];
    /** Response tokens kept, rejected side. */
    rejected: number[];
  };
}

/** One truncated sequence as plain arrays (see {@link truncatePreferencePair}). */
export interface TruncatedSequence {
  /** Prompt+response ids after truncation, unpadded. */
  ids: number[];
  /** 0 for prompt tokens, 1 for response tokens, aligned with `ids`. */
  completionMask: number[];
}

/** Plain-array result of {@link collatePreferenceArrays}: row-major [B,T] buffers. */
export interface CollatedArrays {
  batchSize: number;
  seqLength: number;
  chosen: { inputIds: Int32Array; attentionMask: Int32Array; completionMask: Int32Array };
  rejected: { inputIds: Int32Array; attentionMask: Int32Array; completionMask: Int32Array };
  lengths: PreferenceBatch['lengths'];
}

interface ResolvedOptions {
  padTokenId: number;
  eosTokenId: number | null;
  bosTokenId: number | null;
  maxLength: number | null;
  maxPromptLength: number | null;
  maxCompletionLength: number | null;
  truncationMode: TruncationMode;
  padToMultipleOf: number;
  maskDtype: 'float32' | 'int32';
  vocabSize: number | null;
}

function resolveOptions(where: string, options: CollateOptions): ResolvedOptions {
  if (options === null || typeof options !== 'object') {
    throw argumentError('INVALID_ARGUMENT', where, 'options', 'an options object', String(options));
  }
  const vocabSize =
    options.vocabSize === undefined
      ? null
      : assertNumber(where, 'vocabSize', options.vocabSize, { min: 1, integer: true });
  const idBound = vocabSize === null ? {} : { lessThan: vocabSize };
  const optionalId = (name: string, v: number | null | undefined): number | null =>
    v === null || v === undefined
      ? null
      : assertNumber(where, name, v, { min: 0, integer: true, ...idBound });
  const optionalLength = (name: string, v: number | null | undefined, dflt: number | null): number | null =>
    v === undefined ? dflt : v === null ? null : assertNumber(where, name, v, { min: 1, integer: true });
  if (options.padTokenId === undefined) {
    throw argumentError('INVALID_ARGUMENT', where, 'padTokenId', 'an integer token id', 'undefined');
  }
  if (options.eosTokenId === undefined) {
    throw argumentError('INVALID_ARGUMENT', where, 'eosTokenId', 'an integer token id or null', 'undefined');
  }
  return {
    padTokenId: assertNumber(where, 'padTokenId', options.padTokenId, { min: 0, integer: true, ...idBound }),
    eosTokenId: optionalId('eosTokenId', options.eosTokenId),
    bosTokenId: optionalId('bosTokenId', options.bosTokenId),
    maxLength: optionalLength('maxLength', options.maxLength, 1024),
    maxPromptLength: optionalLength('maxPromptLength', options.maxPromptLength, 512),
    maxCompletionLength: optionalLength('maxCompletionLength', options.maxCompletionLength, null),
    truncationMode: assertOneOf(where, 'truncationMode', options.truncationMode ?? 'keep_end', [
      'keep_end',
      'keep_start',
    ]),
    padToMultipleOf: assertNumber(where, 'padToMultipleOf', options.padToMultipleOf ?? 1, {
      min: 1,
      integer: true,
    }),
    maskDtype: assertOneOf(where, 'maskDtype', options.maskDtype ?? 'float32', ['float32', 'int32']),
    vocabSize,
  };
}

function checkIds(where: string, name: string, ids: unknown, vocabSize: number | null): readonly number[] {
  if (!Array.isArray(ids)) {
    throw argumentError(
      'INVALID_ARGUMENT',
      where,
      name,
      'an array of token ids',
      ids === null ? 'null' : typeof ids,
    );
  }
  if (!checksValues()) return ids as number[];
  for (let i = 0; i < ids.length; i++) {
    const v = ids[i] as unknown;
    const ok =
      typeof v === 'number' && Number.isInteger(v) && v >= 0 && (vocabSize === null || v < vocabSize);
    if (!ok) {
      throw argumentError(
        'OUT_OF_RANGE',
        where,
        name,
        vocabSize === null ? 'non-negative integer token ids' : `integer token ids in [0, ${vocabSize})`,
        `${name}[${i}] = ${typeof v === 'number' ? v : JSON.stringify(v)}`,
      );
    }
  }
  return ids as number[];
}

function checkPairs(where: string, pairs: unknown, vocabSize: number | null): readonly PreferencePair[] {
  if (!Array.isArray(pairs)) {
    throw argumentError(
      'INVALID_ARGUMENT',
      where,
      'pairs',
      'an array of { prompt, chosen, rejected }',
      typeof pairs,
    );
  }
  if (pairs.length === 0) {
    throw argumentError('SHAPE_MISMATCH', where, 'pairs', 'at least one pair', 'an empty array');
  }
  pairs.forEach((p: unknown, i) => {
    if (p === null || typeof p !== 'object') {
      throw argumentError(
        'INVALID_ARGUMENT',
        where,
        `pairs[${i}]`,
        'an object { prompt, chosen, rejected }',
        String(p),
      );
    }
    const pair = p as Record<string, unknown>;
    for (const key of ['prompt', 'chosen', 'rejected'] as const) {
      checkIds(where, `pairs[${i}].${key}`, pair[key], vocabSize);
    }
  });
  return pairs as PreferencePair[];
}

function truncateOne(
  prompt: readonly number[],
  response: readonly number[],
  o: ResolvedOptions,
): TruncatedSequence {
  let p = o.bosTokenId === null ? [...prompt] : [o.bosTokenId, ...prompt];
  let r = o.eosTokenId === null ? [...response] : [...response, o.eosTokenId];
  // TRL's tokenize_row: the prompt keeps its end and the response its start, before any max_length cut.
  if (o.maxPromptLength !== null && p.length > o.maxPromptLength) p = p.slice(p.length - o.maxPromptLength);
  if (o.maxCompletionLength !== null && r.length > o.maxCompletionLength)
    r = r.slice(0, o.maxCompletionLength);
  let ids = [...p, ...r];
  let mask = [...p.map(() => 0), ...r.map(() => 1)];
  // TRL's concatenated_forward flushes each row and slices max_length columns: per row this is
  // exactly keeping the first (keep_start) or last (keep_end) max_length real tokens.
  if (o.maxLength !== null && ids.length > o.maxLength) {
    const start = o.truncationMode === 'keep_start' ? 0 : ids.length - o.maxLength;
    ids = ids.slice(start, start + o.maxLength);
    mask = mask.slice(start, start + o.maxLength);
  }
  return { ids, completionMask: mask };
}

/**
 * Applies TRL DPOTrainer's per-example processing to one pair: BOS (if any) before the prompt, EOS
 * (if any) after each response, prompt cut to its last `maxPromptLength` tokens, responses to their
 * first `maxCompletionLength`, then each prompt+response sequence cut to `maxLength` by
 * `truncationMode`. Pure function on plain arrays (useful to inspect what the model will see).
 *
 * @returns the unpadded chosen and rejected sequences with their completion masks.
 * @throws GanpoError on a malformed pair or option.
 *
 * @example
 * ```ts
 * const { chosen, rejected } = truncatePreferencePair(pair, { padTokenId: 0, eosTokenId: 2, maxLength: 64 });
 * chosen.ids.length <= 64; // prompt + response + EOS, cut as TRL does
 * ```
 */
export function truncatePreferencePair(
  pair: PreferencePair,
  options: CollateOptions,
): { chosen: TruncatedSequence; rejected: TruncatedSequence } {
  const where = 'truncatePreferencePair';
  const o = resolveOptions(where, options);
  const [p] = checkPairs(where, [pair], o.vocabSize) as [PreferencePair];
  return { chosen: truncateOne(p.prompt, p.chosen, o), rejected: truncateOne(p.prompt, p.rejected, o) };
}

function collate(where: string, pairs: readonly PreferencePair[], options: CollateOptions) {
  const o = resolveOptions(where, options);
  checkPairs(where, pairs, o.vocabSize);
  const chosen = pairs.map((p) => truncateOne(p.prompt, p.chosen, o));
  const rejected = pairs.map((p) => truncateOne(p.prompt, p.rejected, o));
  // TRL pads chosen and rejected together (they are one concatenated [2B,T] batch); at least one
  // column so that a batch of fully truncated empty sequences still has a valid shape.
  const longest = Math.max(1, ...chosen.map((s) => s.ids.length), ...rejected.map((s) => s.ids.length));
  const T = Math.ceil(longest / o.padToMultipleOf) * o.padToMultipleOf;
  const B = pairs.length;
  const fill = (seqs: TruncatedSequence[]) => {
    const inputIds = new Int32Array(B * T).fill(o.padTokenId);
    const attentionMask = new Int32Array(B * T);
    const completionMask = new Int32Array(B * T);
    seqs.forEach((s, b) => {
      inputIds.set(s.ids, b * T);
      attentionMask.fill(1, b * T, b * T + s.ids.length);
      completionMask.set(s.completionMask, b * T);
    });
    return { inputIds, attentionMask, completionMask };
  };
  const count = (m: number[]): number => m.reduce((a, v) => a + v, 0);
  const lengths = {
    chosenPrompt: chosen.map((s) => s.ids.length - count(s.completionMask)),
    rejectedPrompt: rejected.map((s) => s.ids.length - count(s.completionMask)),
    chosen: chosen.map((s) => count(s.completionMask)),
    rejected: rejected.map((s) => count(s.completionMask)),
  };
  return {
    o,
    arrays: { batchSize: B, seqLength: T, chosen: fill(chosen), rejected: fill(rejected), lengths },
  };
}

/**
 * {@link collatePreferencePairs} on plain arrays: the same padding and truncation, returned as
 * row-major Int32Array buffers of [B,T] (no tensors). For data pipelines, caching and tests.
 *
 * @example
 * ```ts
 * const { batchSize, seqLength, chosen } = collatePreferenceArrays(pairs, { padTokenId: 0, eosTokenId: 2 });
 * const ids = tf.tensor2d(chosen.inputIds, [batchSize, seqLength], 'int32');
 * ```
 */
export function collatePreferenceArrays(
  pairs: readonly PreferencePair[],
  options: CollateOptions,
): CollatedArrays {
  return collate('collatePreferenceArrays', pairs, options).arrays;
}

/**
 * Collates preference pairs of token ids into a padded batch, with exactly the semantics of TRL's
 * `DPOTrainer` (v0.28: `tokenize_row` + `DataCollatorForPreference` + `concatenated_forward`):
 *
 * 1. per pair: `bosTokenId` (if set) is prepended to the prompt and `eosTokenId` (if set) appended to
 *    each response;
 * 2. the prompt keeps its last `maxPromptLength` tokens; each response its first
 *    `maxCompletionLength` tokens (EOS included, so a cut response has no EOS);
 * 3. each sequence prompt+response longer than `maxLength` keeps its first (`keep_start`) or last
 *    (`keep_end`, default) `maxLength` tokens — `keep_start` cuts the response (EOS first),
 *    `keep_end` the beginning of the prompt;
 * 4. all 2B sequences are right-padded with `padTokenId` to the longest one (T, rounded up to
 *    `padToMultipleOf`; at least 1). Right padding with causal attention means no real token ever
 *    attends to padding, so a causal LM needs no key-padding mask.
 *
 * A pair whose response is cut away entirely (empty response without EOS, or `keep_start` with a
 * prompt filling `maxLength`) gets a completion length of 0: losses that average over response tokens
 * should clamp the count (as `sequenceLogProbs` does); TRL ≥ 1.0 drops such pairs before training.
 *
 * @param pairs - B ≥ 1 pairs `{ prompt, chosen, rejected }` of non-negative integer token ids.
 * @param options - see {@link CollateOptions}; `padTokenId` and `eosTokenId` are required.
 * @returns a {@link PreferenceBatch} whose tensors the caller owns (see {@link disposePreferenceBatch}).
 * @throws GanpoError `INVALID_ARGUMENT` (not arrays), `SHAPE_MISMATCH` (no pair), `OUT_OF_RANGE`
 *   (negative, fractional or ≥ `vocabSize` ids; bad lengths), `INVALID_OPTION` (unknown mode).
 * @see https://github.com/huggingface/trl/blob/v0.28.0/trl/trainer/dpo_trainer.py
 *
 * @example
 * ```ts
 * const batch = collatePreferencePairs(pairs, { padTokenId: 0, eosTokenId: 2, maxLength: 512 });
 * const { inputIds, attentionMask, completionMask } = batch.chosen; // [B,T] each
 * disposePreferenceBatch(batch);
 * ```
 */
export function collatePreferencePairs(
  pairs: readonly PreferencePair[],
  options: CollateOptions,
): PreferenceBatch {
  const { o, arrays } = collate('collatePreferencePairs', pairs, options);
  const { batchSize: B, seqLength: T } = arrays;
  const side = (a: CollatedArrays['chosen'], lengths: number[]): CollatedSequences => {
    const mask = (m: Int32Array): tf.Tensor2D =>
      o.maskDtype === 'int32'
        ? tf.tensor2d(m, [B, T], 'int32')
        : tf.tensor2d(Float32Array.from(m), [B, T], 'float32');
    return {
      inputIds: tf.tensor2d(a.inputIds, [B, T], 'int32'),
      attentionMask: mask(a.attentionMask),
      completionMask: mask(a.completionMask),
      completionLengths: tf.tensor1d(lengths, 'float32'),
    };
  };
  return {
    chosen: side(arrays.chosen, arrays.lengths.chosen),
    rejected: side(arrays.rejected, arrays.lengths.rejected),
    batchSize: B,
    seqLength: T,
    lengths: arrays.lengths,
  };
}

/**
 * Disposes every tensor of a {@link PreferenceBatch}.
 *
 * @example
 * ```ts
 * const batch = collatePreferencePairs(pairs, options);
 * try { step(batch); } finally { disposePreferenceBatch(batch); }
 * ```
 */
export function disposePreferenceBatch(batch: PreferenceBatch): void {
  assertObject('disposePreferenceBatch', 'batch', batch, 'a PreferenceBatch { chosen, rejected }');
  assertObject('disposePreferenceBatch', 'batch.chosen', batch.chosen, 'a collated side');
  assertObject('disposePreferenceBatch', 'batch.rejected', batch.rejected, 'a collated side');
  for (const s of [batch.chosen, batch.rejected]) {
    tf.dispose([s.inputIds, s.attentionMask, s.completionMask, s.completionLengths]);
  }
}

/**
 * Stacks the two sides of a batch into one [2B,T] batch, chosen rows first (TRL's
 * `concatenated_inputs` order), so that one forward pass serves both. New tensors; the caller owns
 * them and still owns `batch`.
 *
 * @example
 * ```ts
 * const both = concatenatePreferenceBatch(batch); // [2B,T]: chosen rows, then rejected
 * const { logits } = model.forward(both.inputIds, { training: true });
 * ```
 */
export function concatenatePreferenceBatch(batch: PreferenceBatch): CollatedSequences {
  const { chosen: c, rejected: r } = batch;
  return {
    inputIds: tf.concat([c.inputIds, r.inputIds], 0),
    attentionMask: tf.concat([c.attentionMask, r.attentionMask], 0),
    completionMask: tf.concat([c.completionMask, r.completionMask], 0),
    completionLengths: tf.concat([c.completionLengths, r.completionLengths], 0),
  };
}
