/**
 * A queue's skill menu: before joining the queue the caller hears the queue's menu prompt and
 * presses one digit, which names the skill their call needs (e.g. 1 English, 2 French). No
 * digit within the digit timeout, or one the menu does not list, leaves the call without a skill:
 * it goes to whoever the queue's strategy picks.
 */
import type Mrf from 'drachtio-fsmrf';
import { PIN_DIGIT_TIMEOUT_MS } from '../conference/pin-entry.js';
import { collectEntry } from '../conference/pin-prompt.js';
import type { Logger } from '../log.js';
import type { Prompts } from '../media/prompts.js';
import type { Queue } from '../provisioning/types.js';

/** The skill a menu choice names; '' for none. */
export function skillOfChoice(menu: Record<string, string> | null, digit: string): string {
  return (menu && Object.hasOwn(menu, digit) ? menu[digit] : undefined) ?? '';
}

/** Asks the caller; undefined when they hung up meanwhile. */
export async function askSkill(endpoint: Mrf.Endpoint, queue: Queue, prompts: Prompts, log: Logger): Promise<string | undefined> {
  const digit = await collectEntry(endpoint, prompts.configured(queue.skillMenuPrompt), 1, PIN_DIGIT_TIMEOUT_MS, log);
  if (digit === undefined) return undefined;
  const skill = skillOfChoice(queue.skillMenu, digit);
  log.info({ queue: queue.number, digit, skill }, 'skill menu choice');
  return skill;
}
