// Bridges the text task and the tokenizer-agnostic library: text pairs → token-id pairs.
import type { PreferencePair } from 'ganpo';
import type { CharTokenizer } from '../tokenizers/char-tokenizer';
import type { TextPair } from './digits';

/**
 * Encodes text pairs for the preference collator: the prompt gets a BOS (a char LM needs a start
 * token to predict the first prompt character from); responses get no EOS, because
 * `collatePreferencePairs({ eosTokenId })` appends it, as TRL does.
 */
export function encodePairs(tokenizer: CharTokenizer, pairs: readonly TextPair[]): PreferencePair[] {
  return pairs.map((p) => ({
    prompt: tokenizer.encode(p.prompt, { addBos: true }),
    chosen: tokenizer.encode(p.chosen),
    rejected: tokenizer.encode(p.rejected),
  }));
}

/** Encodes prompts for `TinyLM.generate` (BOS + prompt text, like {@link encodePairs}). */
export function encodePrompts(tokenizer: CharTokenizer, prompts: readonly string[]): number[][] {
  return prompts.map((p) => tokenizer.encode(p, { addBos: true }));
}
