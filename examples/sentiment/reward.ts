// The ground-truth reward of the benchmark: a fixed, published sentiment scorer that nothing in the
// pipeline trains. VADER (Hutto & Gilbert, "VADER: A Parsimonious Rule-based Model for Sentiment
// Analysis of Social Media Text", ICWSM 2014), through the npm package `vader-sentiment` (the
// JavaScript port listed by VADER's authors): a 7,500-entry valence lexicon plus rules for negation,
// intensifiers, "but", capitals and exclamation marks. Its `compound` score is bounded in (−1, 1), as
// the classifier probability the DPO paper's experiment rewards is bounded, so repeating a positive word
// saturates instead of growing without limit.
import { createRequire } from 'node:module';
import { packageFolder } from './corpus';

/** A reward model: text → score (higher = more of what is preferred). Must be deterministic. */
export interface Scorer {
  /** A short name; it keys the cached pairs, so change it when the scoring changes. */
  name: string;
  score(text: string): number;
}

interface VaderModule {
  SentimentIntensityAnalyzer: {
    polarity_scores(text: string): { neg: number; neu: number; pos: number; compound: number };
  };
}

/**
 * VADER's compound sentiment of `text`, in (−1, 1): the normalised sum x/√(x² + 15) of the valences
 * of its words after VADER's rules (its paper, section 3). Loaded from the installed `vader-sentiment`
 * package; a missing package gives the command that installs it.
 *
 * @example
 * ```ts
 * const score = vaderCompound();
 * score.score('The war was a terrible disaster'); // −0.80
 * ```
 */
export function vaderCompound(): Scorer {
  packageFolder('vader-sentiment', 'VADER sentiment scorer');
  const vader = createRequire(import.meta.url)('vader-sentiment') as VaderModule;
  const analyzer = vader.SentimentIntensityAnalyzer;
  if (typeof analyzer?.polarity_scores !== 'function') {
    throw new Error('vader-sentiment: expected SentimentIntensityAnalyzer.polarity_scores (version ^1.1)');
  }
  return { name: 'vader-compound', score: (text) => analyzer.polarity_scores(text).compound };
}

/**
 * Win rate from rewards, prompt by prompt: the fraction of prompts whose `policy` sample scores higher
 * than the `baseline` sample, ties counting ½. Both lists hold the scores of one sample per prompt, in
 * prompt order.
 */
export function rewardWinRate(policy: readonly number[], baseline: readonly number[]): number {
  if (policy.length !== baseline.length || policy.length === 0) {
    throw new Error(`rewardWinRate: ${policy.length} policy scores against ${baseline.length} baseline ones`);
  }
  let wins = 0;
  policy.forEach((p, i) => {
    const b = baseline[i] as number;
    wins += p > b ? 1 : p === b ? 0.5 : 0;
  });
  return wins / policy.length;
}
