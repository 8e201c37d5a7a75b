import { log } from '../core/log';
import type { Discriminator } from '../discriminators/types';

/**
 * Latent width below which the official 512-wide transformer critic gets a size notice: the official
 * runs pair it with latents of width 2304 (Gemma-2-2B) and 4096 (Llama-3-8B), a critic 4.5–8× narrower
 * than the latents; at H < 128 it is more than 4× wider than them, and its cost dominates the step
 * (docs/guide.md, "Small models: size the critic").
 */
export const CRITIC_NOTICE_BELOW_LATENT_DIM = 128;

let criticNoticeShown = false;

/** Forgets that the critic-size notice was shown (tests only). */
export function resetCriticSizeNotice(): void {
  criticNoticeShown = false;
}

/**
 * Warns once per process (through the library's logger, see `setLogger`) when a regularizer builds
 * the default official-size transformer critic (width 512, not chosen explicitly) for latents
 * narrower than
 * {@link CRITIC_NOTICE_BELOW_LATENT_DIM}.
 */
export function criticSizeNotice(
  kind: 'transformer' | 'mlp',
  latentDim: number,
  widthGiven: boolean,
  critic: Discriminator,
): void {
  if (criticNoticeShown || kind !== 'transformer' || widthGiven) return;
  if (latentDim >= CRITIC_NOTICE_BELOW_LATENT_DIM) return;
  criticNoticeShown = true;
  let params = 0;
  for (const v of critic.trainableVariables) params += v.size;
  log(
    'warn',
    `GanpoRegularizer: the default transformer critic (the official one: width 512, 2 layers, ` +
      `${params.toLocaleString('en-US')} parameters per discriminator, two of them) is far larger than ` +
      `latents of width ${latentDim} (the official runs use it with widths 2304-4096). For small models pass ` +
      `critic: { kind: 'mlp' } or a smaller critic, e.g. critic: { hiddenDim: ${smallWidth(latentDim)}, numLayers: 1, ` +
      `numHeads: 4, maxSeqLen: <your max length> } (docs/guide.md, "Small models"); set ` +
      'critic.hiddenDim explicitly to keep the official size without this notice.',
  );
}

/** A critic width for small latents: 2·H rounded up to a multiple of 16, at least 32. */
export function smallWidth(latentDim: number): number {
  return Math.max(32, Math.ceil((2 * latentDim) / 16) * 16);
}

/**
 * Remembers whether the last discriminator step had masks and warns once (per regularizer, through
 * the library's logger) when the
 * adversarial loss is computed with masks the step did not have, or without masks it had: the
 * critic then scores padding in one and not the other, so the two means are not comparable.
 */
export class MaskConsistency {
  private stepMasked: boolean | null = null;
  private warned = false;

  /** Records a discriminator step's masks. */
  step(masked: boolean): void {
    this.stepMasked = masked;
  }

  /** Checks an adversarial loss's masks against the last step's. */
  loss(masked: boolean, where: string): void {
    if (this.warned || this.stepMasked === null || masked === this.stepMasked) return;
    this.warned = true;
    const [given, missing] = this.stepMasked
      ? ['discriminatorStep', `${where}`]
      : [`${where}`, 'discriminatorStep'];
    log(
      'warn',
      `${where}: chosenMask/rejectedMask were given to ${given} but not to ${missing}; the critic then ` +
        'scores padding positions in one and not the other. Pass the same masks to both (warned once).',
    );
  }
}
