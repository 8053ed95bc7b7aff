import { describe, expect, it } from 'vitest';
import { foldText, formatNumbers, numberKey, parseNumbers, searchKeys } from '../../../src/directory/entry.js';

describe('search keys', () => {
  it('folds names: lower case, accents dropped, punctuation a single space', () => {
    expect(foldText('  Jean-Luc  MÜLLER ')).toBe('jean luc muller');
    expect(foldText("O'Brien, Siobhán")).toBe('o brien siobhan');
    expect(foldText('--')).toBe('');
  });

  it('keeps the digits, * and # of a number', () => {
    expect(numberKey('+44 (20) 7946-0000')).toBe('442079460000');
    expect(numberKey('*21#')).toBe('*21#');
  });

  it('keys an entry by folded name and department and by the digits of its numbers and extension, once each', () => {
    expect(searchKeys({ name: 'Ana Núñez', department: 'Front Desk', extension: '101', numbers: [{ label: 'desk', number: '10-1' }, { label: '', number: '+1 555 0100' }] })).toEqual({
      nameKey: 'ana nunez',
      departmentKey: 'front desk',
      numberKeys: ['101', '15550100'],
    });
  });
});

describe('numbers in one CSV cell', () => {
  it('writes label: number pairs separated by semicolons and reads them back', () => {
    const numbers = [{ label: 'desk', number: '+44 20 7946 0000' }, { label: '', number: '1234' }];
    expect(formatNumbers(numbers)).toBe('desk: +44 20 7946 0000; 1234');
    expect(parseNumbers('desk: +44 20 7946 0000; 1234')).toEqual(numbers);
    expect(parseNumbers(' ; mobile:07700 900123;')).toEqual([{ label: 'mobile', number: '07700 900123' }]);
    expect(parseNumbers('')).toEqual([]);
  });
});
