import type Mrf from 'drachtio-fsmrf';

/** The prompts of rooms (conference bridges): file name (without .wav) -> what it says. */
export const ROOM_PROMPTS = {
  'room-pin': 'Please enter the conference PIN, followed by the pound key.',
  'room-pin-wrong': 'That PIN is not valid.',
  'room-wait-moderator': 'The conference will begin when the moderator arrives. Please hold.',
  'room-locked': 'This conference is locked.',
  'room-full': 'This conference is full.',
  goodbye: 'Goodbye.',
} as const;
export type RoomPrompt = keyof typeof ROOM_PROMPTS;

/** The intercept announcements of changed and withdrawn numbers: file name -> what it says. */
export const INTERCEPT_PROMPTS = {
  'number-withdrawn': 'The number you have dialled is no longer in service.',
  'number-changed': 'The number you have dialled has changed. The new number is',
  'number-connecting': 'Please hold, we are connecting you to the new number.',
} as const;
export type InterceptPrompt = keyof typeof INTERCEPT_PROMPTS;

/** The prompts of the satisfaction rating (README: Greeting and rating). */
export const RATING_PROMPTS = {
  rating: 'Please rate our service from 1, poor, to 5, excellent, on your keypad.',
  'rating-invalid': 'Please press a digit from 1 to 5.',
  'rating-thanks': 'Thank you for your rating. Goodbye.',
} as const;
export type RatingPrompt = keyof typeof RATING_PROMPTS;

/** The prompts of the callback (README: Callback). */
export const CALLBACK_PROMPTS = {
  // Followed by the queue's key, spoken.
  'callback-offer': 'To be called back without losing your place, press',
  'callback-confirm': 'We will call you back on',
  'callback-options': 'To confirm, press 1. To enter another number, press 2.',
  'callback-enter': 'Please enter the number to call you back on, followed by the pound key.',
  'callback-accepted': 'Thank you. We will call you back when it is your turn. Goodbye.',
} as const;
export type CallbackPrompt = keyof typeof CALLBACK_PROMPTS;
/** The prompts of wake-up calls (README: Wake-up calls). */
export const WAKEUP_PROMPTS = {
  wakeup: 'Good morning. This is your wake-up call.',
  'wakeup-failed': 'A wake-up call was not answered. Extension',
} as const;
export type WakeupPrompt = keyof typeof WAKEUP_PROMPTS;

/**
 * What callers hear besides hold music. Files live in PROMPTS_DIR on the media server (see the
 * README for the list); tones need no files, so feature codes work on a bare FreeSWITCH.
 */
export class Prompts {
  constructor(private readonly dir: string) {}

  file(name: 'position' | 'busy' | 'closed' | 'transfer-failed' | 'camp-on' | RoomPrompt | InterceptPrompt | RatingPrompt | CallbackPrompt | WakeupPrompt): string {
    return `${this.dir}/${name}.wav`;
  }

  /** A prompt named in a queue's settings (greeting, whisper, skill menu), already validated. */
  configured(name: string): string {
    return `${this.dir}/${name}.wav`;
  }

  /** A short high beep: done. */
  readonly confirm = 'tone_stream://%(250,50,880);loops=2';
  /** A low double tone: refused. */
  readonly refuse = 'tone_stream://%(400,100,330);loops=2';

  /** "You are caller number" + the position spoken. */
  async position(endpoint: Mrf.Endpoint, position: number): Promise<void> {
    await endpoint.play(this.file('position'));
    await endpoint.say(String(position), { sayType: 'NUMBER', sayMethod: 'pronounced' });
  }

  /**
   * The intercept announcement of a changed number (its digits said one by one, then, when the
   * caller is put through, "connecting you") or of a withdrawn one. A part that cannot be played
   * (a missing file) is skipped: the rest still tells the caller.
   */
  async intercept(endpoint: Mrf.Endpoint, newNumber: string | null, digits: string, connecting: boolean): Promise<void> {
    const skip = (): undefined => undefined;
    if (newNumber === null) {
      await endpoint.play(this.file('number-withdrawn')).catch(skip);
      return;
    }
    await endpoint.play(this.file('number-changed')).catch(skip);
    if (digits !== '') await this.digits(endpoint, digits).catch(skip);
    if (connecting) await endpoint.play(this.file('number-connecting')).catch(skip);
  }

  /** "To be called back without losing your place, press" + the key (a digit is spoken). */
  async callbackOffer(endpoint: Mrf.Endpoint, key: string): Promise<void> {
    await endpoint.play(this.file('callback-offer'));
    if (/^[0-9]$/.test(key)) await endpoint.say(key, { sayType: 'NUMBER', sayMethod: 'pronounced' });
  }

  /** Digits spoken one by one ("six seven three five four"), as a work number is read out. */
  async digits(endpoint: Mrf.Endpoint, digits: string): Promise<void> {
    await endpoint.say(digits, { sayType: 'NUMBER', sayMethod: 'iterated' });
  }
}
