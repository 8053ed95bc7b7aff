/**
 * The work-number greeting, as pure rules: what the caller and the operator hear between the
 * operator's answer and the moment they are connected. The caller hears the queue's greeting
 * prompt and the operator's work number digit by digit ("operator 6 7 3 5 4 at your service");
 * with whisper on, the operator hears the queue's name (the file queue-<number>) meanwhile.
 */
import type { Queue } from '../provisioning/types.js';

export type GreetingStep = { kind: 'play'; prompt: string } | { kind: 'say-digits'; digits: string };

export interface GreetingPlan {
  caller: GreetingStep[];
  operator: GreetingStep[];
}

export type GreetingSettings = Pick<Queue, 'number' | 'greeting' | 'greetingPrompt' | 'whisper'>;

/** The whisper's file: a recording of the queue's name, by the queue's number. */
export function whisperPrompt(queueNumber: string): string {
  return `queue-${queueNumber}`;
}

/**
 * Whether answering in this queue goes through a greeting before caller and operator talk: the
 * queue greets, or the call carries a note for the operator (a wake-up call nobody answered).
 */
export function greets(queue: GreetingSettings | undefined, note: readonly GreetingStep[] = []): boolean {
  return note.length > 0 || (queue !== undefined && (queue.greeting || queue.whisper));
}

/**
 * What each side hears before they are connected; undefined when nobody is greeted. The
 * operator hears the whisper, then the call's note.
 */
export function greetingPlan(queue: GreetingSettings | undefined, workNumber: string, note: readonly GreetingStep[] = []): GreetingPlan | undefined {
  if (!greets(queue, note)) return undefined;
  const caller: GreetingStep[] = queue?.greeting ? [{ kind: 'play', prompt: queue.greetingPrompt }, { kind: 'say-digits', digits: workNumber }] : [];
  const operator: GreetingStep[] = queue?.whisper ? [{ kind: 'play', prompt: whisperPrompt(queue.number) }] : [];
  return { caller, operator: [...operator, ...note] };
}
