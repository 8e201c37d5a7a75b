// Shapes of the whole-step benchmark (bench/suites/whole-step.ts), shared by the ganpo child process
// (./child.ts) and passed as JSON to the PyTorch one (bench/python/whole_step.py).
import { TASK_ALPHABET } from '../../examples/task';
import { CharTokenizer } from '../../examples/tokenizers/char-tokenizer';

/** The step: DPO alone, or DPO + GANPO (official algorithm) with MLP or transformer critics. */
export type Variant = 'dpo' | 'mlp' | 'transformer';

/** A GPT policy (examples/tiny-lm's architecture), its batch and its critics. */
export interface WholeStepShape {
  vocab: number;
  dim: number;
  layers: number;
  heads: number;
  ffn: number;
  maxSeqLen: number;
  /** Sequence length (prompt + completion) of every sequence. */
  T: number;
  /** Preference pairs per step (2·B sequences through policy and reference). */
  B: number;
  /** Prompt tokens of each sequence (the completion mask starts after them). */
  prompt: number;
  transformerCritic: {
    hidden: number;
    layers: number;
    heads: number;
    ffn: number;
    maxSeqLen: number;
    dropout: number;
  };
  mlpCritic: { hiddenDims: number[] };
}

/** What a child process runs: a shape, a variant and a thread count (default 1). */
export type WholeStepConfig = WholeStepShape & { variant: Variant; threads?: number };

export const SIZES: Record<'demo' | '5M', WholeStepShape> = {
  // The demo's model (examples/demo) and the critics of bench/suites/ganpo-step.ts, full-length batches.
  demo: {
    vocab: new CharTokenizer({ alphabet: TASK_ALPHABET }).vocabSize,
    dim: 64,
    layers: 2,
    heads: 4,
    ffn: 256,
    maxSeqLen: 48,
    T: 48,
    B: 16,
    prompt: 16,
    transformerCritic: { hidden: 64, layers: 1, heads: 4, ffn: 128, maxSeqLen: 48, dropout: 0.1 },
    mlpCritic: { hiddenDims: [64] },
  },
  // A 4.9 M-parameter GPT over bytes; critics as the official preset's (2 layers, 8 heads) at width 256.
  '5M': {
    vocab: 256,
    dim: 256,
    layers: 6,
    heads: 8,
    ffn: 1024,
    maxSeqLen: 128,
    T: 128,
    B: 8,
    prompt: 32,
    transformerCritic: { hidden: 256, layers: 2, heads: 8, ffn: 1024, maxSeqLen: 2048, dropout: 0.1 },
    mlpCritic: { hiddenDims: [256, 256] },
  },
};

/** Parameters of the policy (token and position tables, blocks, final LayerNorm, head). */
export function policyParameters(
  s: Pick<WholeStepShape, 'vocab' | 'dim' | 'layers' | 'ffn' | 'maxSeqLen'>,
): number {
  const { vocab: v, dim: d, layers: l, ffn: f, maxSeqLen: t } = s;
  const block = 4 * d + (3 * d * d + 3 * d) + (d * d + d) + (d * f + f) + (f * d + d);
  return v * d + t * d + l * block + 2 * d + d * v + v;
}

/**
 * Matrix-product FLOPs of one step (a multiply-add counts 2), the work a perfect implementation must
 * do whatever its kernels: the policy's forward and backward (3× the forward) and the reference's
 * forward on 2·B sequences of T tokens (causal attention: (T + 1)/2 keys per query on average; the
 * token embedding is a lookup), and for the transformer critic of the official step six training-mode
 * calls forward and backward plus two generator calls forward and input-gradient (22 forward
 * passes of B·T tokens, non-causal). Element-wise work, softmax and LayerNorm are not counted.
 */
export function stepFlops(s: WholeStepShape, variant: Variant): number {
  const { dim: d, ffn: f, layers: L, vocab: V, T, B } = s;
  const tokens = 2 * B * T;
  const linear = tokens * (L * (8 * d * d + 4 * d * f) + 2 * d * V);
  const attention = tokens * L * 2 * d * (T + 1);
  const policy = 4 * (linear + attention);
  if (variant !== 'transformer') return policy;
  const c = s.transformerCritic;
  const callTokens = B * T;
  const perCall =
    callTokens *
    (2 * d * c.hidden + c.layers * (8 * c.hidden * c.hidden + 4 * c.hidden * c.ffn + 4 * c.hidden * T));
  return policy + 22 * perCall;
}
