/**
 * CSV as RFC 4180 defines it, pure: fields separated by commas, records by CRLF (LF alone is
 * accepted too, as spreadsheets on Unix write it), fields with commas, quotes or line breaks
 * enclosed in double quotes and quotes inside doubled. A UTF-8 byte order mark is skipped.
 */

export class CsvError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(`line ${line}: ${message}`);
    this.name = 'CsvError';
  }
}

export interface CsvRecord {
  /** The line the record starts on (1 = the first line), for error reports. */
  line: number;
  fields: string[];
}

/** Every record of the text; blank lines are skipped. Throws CsvError on a broken quote. */
export function parseCsv(text: string): CsvRecord[] {
  const records: CsvRecord[] = [];
  const s = text.startsWith('\uFEFF') ? text.slice(1) : text;
  let line = 1;
  let recordLine = 1;
  let fields: string[] = [];
  let field = '';
  let i = 0;
  const endRecord = (): void => {
    fields.push(field);
    if (!(fields.length === 1 && fields[0] === '')) records.push({ line: recordLine, fields });
    fields = [];
    field = '';
  };
  while (i < s.length) {
    const c = s[i] as string;
    if (c === '"' && field === '') {
      const quoteLine = line;
      i++;
      for (;;) {
        if (i >= s.length) throw new CsvError(quoteLine, 'a quoted field is never closed');
        const q = s[i] as string;
        if (q === '"' && s[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        if (q === '"') {
          i++;
          break;
        }
        if (q === '\n') line++;
        field += q;
        i++;
      }
      const next = s[i];
      if (next !== undefined && next !== ',' && next !== '\r' && next !== '\n') throw new CsvError(line, 'text after a closing quote');
      continue;
    }
    if (c === ',') {
      fields.push(field);
      field = '';
      i++;
      continue;
    }
    if (c === '\r' || c === '\n') {
      endRecord();
      i += c === '\r' && s[i + 1] === '\n' ? 2 : 1;
      line++;
      recordLine = line;
      continue;
    }
    if (c === '"') throw new CsvError(line, 'a quote inside an unquoted field');
    field += c;
    i++;
  }
  if (field !== '' || fields.length > 0) endRecord();
  return records;
}

function quote(field: string): string {
  return /[",\r\n]/.test(field) || field !== field.trim() ? `"${field.replace(/"/g, '""')}"` : field;
}

/** Records as CSV text, CRLF after every record (the last one too). */
export function formatCsv(records: readonly (readonly string[])[]): string {
  return records.map((r) => `${r.map(quote).join(',')}\r\n`).join('');
}
