/**
 * Stable error codes carried by every {@link GanpoError}. Codes never change meaning between
 * releases, so callers may branch on them.
 *
 * - `SHAPE_MISMATCH`: wrong rank, shape, or a length that disagrees with another argument.
 * - `INVALID_DTYPE`: a tensor of the wrong dtype (for example float labels).
 * - `NON_FINITE`: a tensor holding NaN or ±Infinity where finite values are required.
 * - `OUT_OF_RANGE`: a value outside its allowed range (labels ≥ vocabulary size, mask not 0/1, β ≤ 0).
 * - `INVALID_OPTION`: an unknown enum value, or an option combination that is not allowed.
 * - `INVALID_ARGUMENT`: a missing argument, or something that is not a tensor where one is required.
 * - `STATE_DICT_MISMATCH`: a state dict with a missing, unexpected or mis-shaped key.
 * - `INVALID_FORMAT`: a malformed file or byte buffer (safetensors header, checkpoint).
 * - `DISPOSED`: an object or tensor used after `dispose()`.
 * - `INVALID_STATE`: a call in the wrong order (e.g. an adversarial loss before the first
 *   discriminator step, so no means exist yet).
 */
export type GanpoErrorCode =
  | 'SHAPE_MISMATCH'
  | 'INVALID_DTYPE'
  | 'NON_FINITE'
  | 'OUT_OF_RANGE'
  | 'INVALID_OPTION'
  | 'INVALID_ARGUMENT'
  | 'STATE_DICT_MISMATCH'
  | 'INVALID_FORMAT'
  | 'DISPOSED'
  | 'INVALID_STATE';

/** Structured details of a {@link GanpoError}: which argument, what was expected, what was received. @inline */
export interface GanpoErrorDetails {
  /** The argument (or option, or state-dict key) that was rejected, e.g. `'logits'` or `'beta'`. */
  argument?: string;
  /** What was expected, in words, e.g. `'rank 3 [B,T,V]'`. */
  expected?: string;
  /** What was received, in words, e.g. `'rank 2 [4,7]'`. */
  received?: string;
  /** 1-based line of a text input (a JSONL file) where the problem is, when there is one. */
  line?: number;
}

/**
 * The one error type ganpo throws for bad input. `code` is stable (see {@link GanpoErrorCode});
 * `message` names the argument, the expected and the received value.
 *
 * @example
 * ```ts
 * try { dpoLoss({ ... }); } catch (e) { if (e instanceof GanpoError && e.code === 'SHAPE_MISMATCH') ... }
 * ```
 */
export class GanpoError extends Error {
  readonly code: GanpoErrorCode;
  readonly argument?: string;
  readonly expected?: string;
  readonly received?: string;
  /** 1-based line of a text input (a JSONL file) where the problem is, when there is one. */
  readonly line?: number;

  /** An error with a stable `code`; `details` name the argument, the expected and the received value. */
  constructor(code: GanpoErrorCode, message: string, details: GanpoErrorDetails = {}) {
    super(message);
    this.name = 'GanpoError';
    this.code = code;
    this.argument = details.argument;
    this.expected = details.expected;
    this.received = details.received;
    if (details.line !== undefined) this.line = details.line;
  }
}

/**
 * Builds a {@link GanpoError} whose message reads
 * `"<where>: '<argument>' expected <expected>, received <received>"`.
 */
export function argumentError(
  code: GanpoErrorCode,
  where: string,
  argument: string,
  expected: string,
  received: string,
): GanpoError {
  return new GanpoError(code, `${where}: '${argument}' expected ${expected}, received ${received}`, {
    argument,
    expected,
    received,
  });
}
