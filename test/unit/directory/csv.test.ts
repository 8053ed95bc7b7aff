import { describe, expect, it } from 'vitest';
import { CsvError, formatCsv, parseCsv } from '../../../src/directory/csv.js';

const fields = (text: string): string[][] => parseCsv(text).map((r) => r.fields);

describe('parseCsv (RFC 4180)', () => {
  it('reads fields, CRLF or LF records, and a last record without a line break', () => {
    expect(fields('a,b,c\r\n1,2,3\n4,5,6')).toEqual([['a', 'b', 'c'], ['1', '2', '3'], ['4', '5', '6']]);
  });

  it('reads quoted fields with commas, doubled quotes and line breaks, and says where each record starts', () => {
    const records = parseCsv('name,notes\r\n"Smith, Jo","says ""hi""\r\nand bye"\r\nNext,""\r\n');
    expect(records).toEqual([
      { line: 1, fields: ['name', 'notes'] },
      { line: 2, fields: ['Smith, Jo', 'says "hi"\r\nand bye'] },
      { line: 4, fields: ['Next', ''] },
    ]);
  });

  it('keeps empty fields, skips blank lines and a byte order mark', () => {
    expect(fields('\uFEFFa,,b\r\n\r\n,\r\n')).toEqual([['a', '', 'b'], ['', '']]);
  });

  it('refuses a quote that is never closed, text after a closing quote and a quote inside a field, naming the line', () => {
    expect(() => parseCsv('a\r\n"open,b\r\n')).toThrow(new CsvError(2, 'a quoted field is never closed'));
    expect(() => parseCsv('a\r\nb\r\n"x"y\r\n')).toThrow(/^line 3: text after a closing quote/);
    expect(() => parseCsv('ab"c\r\n')).toThrow(/^line 1: a quote inside an unquoted field/);
  });
});

describe('formatCsv', () => {
  it('quotes only what needs it, doubles quotes and ends every record with CRLF', () => {
    expect(formatCsv([['id', 'name'], ['1', 'Smith, Jo'], ['2', 'say "hi"'], ['3', 'two\nlines'], ['4', ' padded ']])).toBe(
      'id,name\r\n1,"Smith, Jo"\r\n2,"say ""hi"""\r\n3,"two\nlines"\r\n4," padded "\r\n',
    );
  });

  it('round-trips through parseCsv', () => {
    const rows = [['a', 'b,c', '"q"', 'x\r\ny', ''], ['', 'ü', ' ', 'end']];
    expect(fields(formatCsv(rows))).toEqual(rows);
  });
});
