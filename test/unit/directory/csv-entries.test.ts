import { describe, expect, it } from 'vitest';
import { compileValidator, validationError } from '../../../src/api/validation.js';
import { directoryEntryBody } from '../../../src/api/schemas.js';
import { exportCsv, readImport, type EntryCheck } from '../../../src/directory/csv-entries.js';

// The API's own rules for an entry, as the import route uses them.
const validate = compileValidator({ schema: directoryEntryBody, httpPart: 'body' });
const check: EntryCheck = (entry) => {
  if (validate(entry)) return undefined;
  const e = validationError(validate.errors ?? [], 'entry');
  return e.field === undefined ? { message: e.message } : { field: e.field, message: e.message };
};

const T = new Date('2026-11-27T10:00:00Z');

describe('directory CSV', () => {
  it('exports every entry under a header, numbers in one cell, and reads its own export back', () => {
    const csv = exportCsv([
      { id: 7, name: 'Smith, Jo', department: 'Sales', extension: '201', numbers: [{ label: 'mobile', number: '+44 7700 900123' }], notes: 'VIP', private: false, createdAt: T, updatedAt: T },
      { id: 9, name: 'Room 12 guest', department: '', extension: null, numbers: [], notes: '', private: true, createdAt: T, updatedAt: T },
    ]);
    expect(csv).toBe('id,name,department,extension,numbers,notes,private\r\n7,"Smith, Jo",Sales,201,mobile: +44 7700 900123,VIP,false\r\n9,Room 12 guest,,,,,true\r\n');
    const read = readImport(csv, check);
    expect(read.errors).toEqual([]);
    expect(read.lines).toEqual([
      { line: 2, id: 7, entry: { name: 'Smith, Jo', department: 'Sales', extension: '201', numbers: [{ label: 'mobile', number: '+44 7700 900123' }], notes: 'VIP', private: false } },
      { line: 3, id: 9, entry: { name: 'Room 12 guest', department: '', extension: null, numbers: [], notes: '', private: true } },
    ]);
  });

  it('takes columns in any order and case, only name required; missing fields get their defaults', () => {
    const read = readImport('Department,NAME\nSpa,Ana\n', check);
    expect(read).toEqual({ lines: [{ line: 2, entry: { department: 'Spa', name: 'Ana', extension: null, numbers: [], notes: '', private: false } }], errors: [] });
  });

  it('reports every bad line with its number and field, and keeps the good ones', () => {
    const read = readImport('name,extension,private,id\nOk,12,yes,\n,13,no,\nBad ext,1 2,no,\nBad flag,14,maybe,\nBad id,15,no,x\nTwice,16,no,5\nAgain,17,no,5\nShort,1\n', check);
    expect(read.lines.map((l) => l.line)).toEqual([2, 7]);
    expect(read.errors).toEqual([
      { line: 3, field: 'name', message: expect.stringMatching(/^name must/) },
      { line: 4, field: 'extension', message: expect.stringMatching(/^extension must/) },
      { line: 5, field: 'private', message: 'private must be boolean' },
      { line: 6, field: 'id', message: 'must be an entry id (a whole number) or empty' },
      { line: 8, field: 'id', message: 'id 5 is already on line 7' },
      { line: 9, message: 'has 2 fields; the header has 4' },
    ]);
  });

  it('refuses a file without a usable header as one error', () => {
    expect(readImport('', check).errors).toEqual([{ line: 1, message: 'the file is empty; it needs a header line' }]);
    expect(readImport('name,phone\n', check).errors[0]?.message).toMatch(/^unknown column "phone"/);
    expect(readImport('department\n', check).errors[0]?.message).toBe('the header has no name column');
    expect(readImport('name,name\n', check).errors[0]?.message).toBe('column "name" appears twice');
    expect(readImport('name\n"Jo\n', check).errors).toEqual([{ line: 2, message: 'a quoted field is never closed' }]);
  });
});
