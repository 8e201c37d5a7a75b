import { argumentError } from '../core/errors';
import { BaseDiscriminator } from '../discriminators/base';
import type { Discriminator } from '../discriminators/types';
import type { PerSide } from './types';

/**
 * The target critics of the policy-side term: a copy of each critic (same class, configuration and
 * state) when `targetDecay` > 0, else `null` (the policy term then sees the live critics). Only
 * ganpo's own discriminator classes can be copied.
 *
 * @throws GanpoError `INVALID_OPTION` naming `targetDecay` for other `Discriminator` implementations.
 */
export function buildTargets(
  where: string,
  discriminators: Readonly<PerSide<Discriminator>>,
  targetDecay: number,
): Readonly<PerSide<Discriminator>> | null {
  if (targetDecay === 0) return null;
  const { chosen, rejected } = discriminators;
  if (!(chosen instanceof BaseDiscriminator) || !(rejected instanceof BaseDiscriminator)) {
    throw argumentError(
      'INVALID_OPTION',
      where,
      'targetDecay',
      '0 with discriminators other than MLPDiscriminator / TransformerDiscriminator (their target copies are built by cloning)',
      String(targetDecay),
    );
  }
  const twinChosen = chosen.twin();
  try {
    return Object.freeze({ chosen: twinChosen, rejected: rejected.twin() });
  } catch (e) {
    twinChosen.dispose();
    throw e;
  }
}

/** θ_target ← decay·θ_target + (1 − decay)·θ for both sides (spectral-norm vectors copied). */
export function updateTargets(
  targets: Readonly<PerSide<Discriminator>>,
  discriminators: Readonly<PerSide<Discriminator>>,
  decay: number,
): void {
  for (const side of ['chosen', 'rejected'] as const) {
    (targets[side] as BaseDiscriminator).averageFrom(discriminators[side] as BaseDiscriminator, decay);
  }
}
