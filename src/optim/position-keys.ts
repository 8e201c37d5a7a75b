import type * as tf from '@tensorflow/tfjs-core';
import { argumentError } from '../core/errors';
import type { AdamW, AdamWState } from './adamw';

/**
 * Variables by group: a state saved by position keys the slot of `groups[prefix][i]` as
 * `${prefix}/${i}` (for example `policy/0`, `chosen/3`).
 */
export type VariableGroups = Readonly<Record<string, readonly tf.Variable[]>>;

/** Variable name → position key (`${prefix}/${index}`). */
function positionKeys(groups: VariableGroups): Map<string, string> {
  const keys = new Map<string, string>();
  for (const [prefix, variables] of Object.entries(groups)) {
    variables.forEach((v, i) => {
      keys.set(v.name, `${prefix}/${i}`);
    });
  }
  return keys;
}

/**
 * The optimizer's state with slots keyed by position instead of variable name: tfjs gives
 * re-created variables new names (a counter suffix), while positions in a model's variable list are
 * stable, so a state saved this way loads into a freshly built model. Every variable of `groups`
 * has a key: its slot, or `null` when it has no moments yet.
 */
export function saveStateByPosition(optimizer: AdamW, groups: VariableGroups): AdamWState {
  const raw = optimizer.stateDict();
  const keys = positionKeys(groups);
  const slots: AdamWState['slots'] = {};
  for (const key of keys.values()) slots[key] = null;
  for (const [name, slot] of Object.entries(raw.slots)) slots[keys.get(name) ?? name] = slot;
  return { ...raw, slots };
}

/**
 * Checks a state from {@link saveStateByPosition} completely, changing nothing, and returns what
 * loads it (`commit`). A slot whose key is not a position of `groups` is refused
 * (`STATE_DICT_MISMATCH`): it would belong to no variable. So is a position without a key (a slot
 * lost from the state: its variable would restart with fresh moments), unless `strict` is false;
 * `missingKeys` then lists them (`optimizer.slots.<key>`).
 */
export function prepareStateByPosition(
  where: string,
  optimizer: AdamW,
  state: AdamWState,
  groups: VariableGroups,
  strict = true,
): { commit: () => void; release: () => void; missingKeys: string[] } {
  const names = new Map<string, string>();
  for (const [name, key] of positionKeys(groups)) names.set(key, name);
  const slots = state !== null && typeof state === 'object' ? state.slots : undefined;
  const missingKeys: string[] = [];
  if (slots !== null && typeof slots === 'object' && !Array.isArray(slots)) {
    const unknown = Object.keys(slots).find((k) => !names.has(k));
    if (unknown !== undefined) {
      throw argumentError(
        'STATE_DICT_MISMATCH',
        where,
        `optimizer.slots.${unknown.slice(0, 40)}`,
        `a position key among ${[...names.keys()].slice(0, 3).join(', ')}…`,
        'a key that names no variable',
      );
    }
    for (const key of names.keys()) {
      if (Object.hasOwn(slots, key)) continue;
      if (strict) {
        throw argumentError(
          'STATE_DICT_MISMATCH',
          where,
          `optimizer.slots.${key}`,
          "the variable's moments, or null for a variable without any yet",
          'a missing key (the variable would restart with fresh moments)',
        );
      }
      missingKeys.push(`optimizer.slots.${key}`);
    }
  }
  const load = optimizer.prepareLoadStateDict(state, { rename: (saved) => names.get(saved) ?? saved, where });
  return { ...load, missingKeys };
}
