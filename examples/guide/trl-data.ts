// docs/guide.md, "Your data in TRL's format": preference JSONL through any Tokenizer, ready for
// collatePreferencePairs or GanpoTrainer.
import {
  type CollateOptions,
  type PreferencePair,
  readPreferenceJsonl,
  type Tokenizer,
  tokenizePreferenceData,
} from 'ganpo/node';

export async function loadPreferenceData(
  dir: string,
  file: string,
  tokenizer: Tokenizer,
): Promise<{ pairs: PreferencePair[]; collate: CollateOptions }> {
  // Lines such as {"prompt": "...", "chosen": "...", "rejected": "..."}, or the same keys holding
  // lists of {"role", "content"} messages; only files inside `dir` are read, and a malformed or
  // oversized line is refused with its line number.
  const { examples } = await readPreferenceJsonl(dir, file, { maxBytes: 64 * 1024 * 1024 });
  // `collate`: pad and EOS ids (EOS null for conversations, whose chat template ends each turn)
  // and the vocabulary size, from the tokenizer; add the length limits you want.
  const { pairs, collate } = tokenizePreferenceData(examples, tokenizer);
  return { pairs, collate: { ...collate, maxLength: 1024 } };
}
