import { describe, expect, it } from 'vitest';
import { skillOfChoice } from '../../../src/calls/skill-menu.js';

describe('skillOfChoice', () => {
  const menu = { 1: 'en', 2: 'fr' };

  it('names the skill of a digit on the menu', () => {
    expect(skillOfChoice(menu, '2')).toBe('fr');
  });

  it('no skill for no digit, a digit not on the menu, or no menu', () => {
    expect(skillOfChoice(menu, '')).toBe('');
    expect(skillOfChoice(menu, '9')).toBe('');
    expect(skillOfChoice(menu, 'constructor')).toBe('');
    expect(skillOfChoice(null, '1')).toBe('');
  });
});
