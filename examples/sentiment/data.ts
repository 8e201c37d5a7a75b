// The benchmark's data, as the DPO paper's controlled sentiment generation builds it (Rafailov et al.
// 2023, section 6.1): pretraining text for the SFT model, prompts that are prefixes of held-out text,
// and preference pairs made by sampling two continuations of each prompt from the SFT model and
// labelling them with the reward (ties dropped). The pairs are written as TRL-format JSONL and read back
// with ganpo's readers, as a user's own data would be.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CausalLM, Tokenizer } from 'ganpo';
import { readPreferenceJsonl, tokenizePreferenceData } from 'ganpo/node';
import { mulberry32 } from '../random';
import type { Corpus, CorpusDocument } from './corpus';
import type { Scorer } from './reward';
import { sampleContinuations } from './sample';

/** The corpus split by document: SFT text, pair prompts and evaluation prompts never share one. */
export interface CorpusSplit {
  sft: CorpusDocument[];
  pairs: CorpusDocument[];
  eval: CorpusDocument[];
}

/**
 * Splits documents by position: of every `every` consecutive documents, the first goes to evaluation,
 * the middle one to the pair prompts, the rest to SFT (Brown's samples are sorted by genre, so every
 * split covers every genre).
 */
export function splitCorpus(corpus: Corpus, every = 10): CorpusSplit {
  const out: CorpusSplit = { sft: [], pairs: [], eval: [] };
  corpus.documents.forEach((d, i) => {
    const r = i % every;
    (r === 0 ? out.eval : r === Math.floor(every / 2) ? out.pairs : out.sft).push(d);
  });
  if (out.eval.length === 0 || out.pairs.length === 0 || out.sft.length === 0) {
    throw new Error(
      `splitCorpus: ${corpus.documents.length} documents are too few for a 1-in-${every} split`,
    );
  }
  return out;
}

/** A seeded Fisher–Yates shuffle (a copy). */
function shuffled<T>(xs: readonly T[], seed: number): T[] {
  const random = mulberry32(seed);
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/**
 * Pretraining windows: `count` pieces of `chars` characters of running text, each starting at a
 * sentence start (so the model learns how text begins after BOS, where prompts begin), drawn with a
 * seeded shuffle of all sentence starts whose document has that much text left.
 */
export function sftWindows(documents: readonly CorpusDocument[], chars: number, count: number, seed: number) {
  const starts: string[] = [];
  for (const d of documents) {
    const text = d.sentences.join(' ');
    let at = 0;
    for (const s of d.sentences) {
      if (text.length - at >= chars) starts.push(text.slice(at, at + chars));
      at += s.length + 1;
    }
  }
  if (starts.length < count) throw new Error(`sftWindows: ${starts.length} windows, ${count} wanted`);
  return shuffled(starts, seed).slice(0, count);
}

/** Options of {@link promptsOf}. */
export interface PromptOptions {
  /** A prompt is the sentence's first words up to at least this many characters... */
  minChars: number;
  /** ...and at most this many. */
  maxChars: number;
  /** Characters the sentence must still have after the prompt (a real continuation exists). */
  restChars: number;
  count: number;
  seed: number;
}

/**
 * Prompts: the first whole words of sentences (the DPO paper's IMDb prompts are 2–8-token prefixes of
 * reviews), at least `minChars` and at most `maxChars` long, from sentences with `restChars` more text;
 * `count` of them in a seeded order, no two from the same sentence.
 */
export function promptsOf(documents: readonly CorpusDocument[], o: PromptOptions): string[] {
  const all: string[] = [];
  for (const d of documents) {
    for (const s of d.sentences) {
      const words = s.split(' ');
      let prompt = '';
      for (const w of words) {
        const next = prompt === '' ? w : `${prompt} ${w}`;
        if (next.length > o.maxChars) break;
        prompt = next;
        if (prompt.length >= o.minChars) break;
      }
      if (prompt.length >= o.minChars && s.length - prompt.length >= o.restChars) all.push(prompt);
    }
  }
  if (all.length < o.count) throw new Error(`promptsOf: ${all.length} prompts, ${o.count} wanted`);
  return shuffled(all, o.seed).slice(0, o.count);
}

/** One labelled pair in TRL's explicit-prompt format, with the rewards (as UltraFeedback-binarized keeps them). */
export interface LabelledPair {
  prompt: string;
  chosen: string;
  rejected: string;
  score_chosen: number;
  score_rejected: number;
}

/** Options of {@link labelPairs}. */
export interface PairOptions {
  model: CausalLM;
  tokenizer: Tokenizer;
  prompts: readonly string[];
  scorer: Scorer;
  /** Sampling temperature of both continuations. */
  temperature: number;
  /** Length of each continuation in tokens. */
  maxNewTokens: number;
  seed: number;
}

/** Token ids of each prompt as the collator will see it: BOS (if the tokenizer has one) + the text. */
export function promptIds(tokenizer: Tokenizer, prompts: readonly string[]): number[][] {
  const bos = tokenizer.bosTokenId ?? null;
  return prompts.map((p) => (bos === null ? tokenizer.encode(p) : [bos, ...tokenizer.encode(p)]));
}

/**
 * Samples two continuations of every prompt from `model` and labels them with the reward of
 * prompt + continuation (the text the DPO paper's classifier reads): the higher one is chosen. Ties
 * are dropped, and so are pairs where a continuation stopped early on EOS (every kept response is
 * `maxNewTokens` long, as the policy's own samples are at evaluation).
 */
export function labelPairs(o: PairOptions): { pairs: LabelledPair[]; ties: number; stopped: number } {
  const ids = promptIds(o.tokenizer, o.prompts);
  const sample = { maxNewTokens: o.maxNewTokens, temperature: o.temperature };
  const pad = o.tokenizer.padTokenId ?? 0;
  const stopTokenId = o.tokenizer.eosTokenId;
  const a = sampleContinuations(o.model, ids, { ...sample, seed: 2 * o.seed, padTokenId: pad, stopTokenId });
  const b = sampleContinuations(o.model, ids, {
    ...sample,
    seed: 2 * o.seed + 1,
    padTokenId: pad,
    stopTokenId,
  });
  const pairs: LabelledPair[] = [];
  let ties = 0;
  let stopped = 0;
  o.prompts.forEach((prompt, i) => {
    const [x, y] = [a[i] as number[], b[i] as number[]];
    if (x.length < o.maxNewTokens || y.length < o.maxNewTokens) {
      stopped++;
      return;
    }
    const [tx, ty] = [o.tokenizer.decode(x), o.tokenizer.decode(y)];
    const [sx, sy] = [o.scorer.score(prompt + tx), o.scorer.score(prompt + ty)];
    if (sx === sy) {
      ties++;
      return;
    }
    const [chosen, rejected] = sx > sy ? [tx, ty] : [ty, tx];
    pairs.push({
      prompt,
      chosen,
      rejected,
      score_chosen: Math.max(sx, sy),
      score_rejected: Math.min(sx, sy),
    });
  });
  return { pairs, ties, stopped };
}

/** Writes pairs as TRL-format JSONL (`{"prompt", "chosen", "rejected", ...}` one per line). */
export function writePairsJsonl(dir: string, file: string, pairs: readonly LabelledPair[]): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, file), pairs.map((p) => `${JSON.stringify(p)}\n`).join(''));
}

/**
 * Reads a TRL-format JSONL file back with ganpo's readers and tokenizes it: the token-id pairs, and the
 * prompts as text. Responses are fixed-length cuts of the model's samples, not ends of text, so the
 * collator must not append EOS to them: the returned `eosTokenId` is null whatever the tokenizer's.
 */
export async function readPairs(dir: string, file: string, tokenizer: Tokenizer) {
  const { examples } = await readPreferenceJsonl(dir, file);
  const { pairs } = tokenizePreferenceData(examples, tokenizer);
  const prompts = examples.map((e) => e.prompt as string);
  return { pairs, prompts, eosTokenId: null };
}
