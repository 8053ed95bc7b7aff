/**
 * The directory as CSV, pure: the export's columns and the import's reading of them, line by
 * line, into entries or errors. Checking an entry's fields is left to `check` (the API's JSON
 * schema of an entry), so CSV and JSON follow one set of rules.
 */
import { formatCsv, parseCsv, CsvError } from './csv.js';
import { formatNumbers, parseNumbers, type DirectoryEntry, type DirectoryEntryInput, type ImportLine } from './entry.js';

export const CSV_COLUMNS = ['id', 'name', 'department', 'extension', 'numbers', 'notes', 'private'] as const;
type Column = (typeof CSV_COLUMNS)[number];

export interface LineError {
  line: number;
  field?: string;
  message: string;
}

/** Checks an entry as the API would (filling in defaults); the problem, or undefined. */
export type EntryCheck = (entry: Record<string, unknown>) => { field?: string; message: string } | undefined;

export function exportCsv(entries: readonly DirectoryEntry[]): string {
  const rows = entries.map((e) => [String(e.id), e.name, e.department, e.extension ?? '', formatNumbers(e.numbers), e.notes, e.private ? 'true' : 'false']);
  return formatCsv([[...CSV_COLUMNS], ...rows]);
}

const TRUE = new Set(['true', 'yes', 'y', '1']);
const FALSE = new Set(['false', 'no', 'n', '0', '']);

function booleanOf(text: string): boolean | string {
  const t = text.trim().toLowerCase();
  if (TRUE.has(t)) return true;
  if (FALSE.has(t)) return false;
  return text;
}

/** The header's columns by position; unknown or repeated names and a missing name column are errors. */
function readHeader(fields: string[]): Column[] | LineError {
  const columns: Column[] = [];
  for (const raw of fields) {
    const name = raw.trim().toLowerCase();
    if (!(CSV_COLUMNS as readonly string[]).includes(name)) return { line: 1, message: `unknown column "${raw}" (columns: ${CSV_COLUMNS.join(', ')})` };
    if (columns.includes(name as Column)) return { line: 1, message: `column "${name}" appears twice` };
    columns.push(name as Column);
  }
  if (!columns.includes('name')) return { line: 1, message: 'the header has no name column' };
  return columns;
}

function readLine(line: number, columns: Column[], fields: string[], check: EntryCheck): ImportLine | LineError {
  if (fields.length !== columns.length) return { line, message: `has ${fields.length} fields; the header has ${columns.length}` };
  const cells = new Map(columns.map((c, i) => [c, fields[i] as string]));
  const body: Record<string, unknown> = {};
  for (const [column, cell] of cells) {
    if (column === 'id') continue;
    if (column === 'numbers') body.numbers = parseNumbers(cell);
    else if (column === 'private') body.private = booleanOf(cell);
    else if (column === 'extension') body.extension = cell.trim() === '' ? null : cell.trim();
    else body[column] = cell.trim();
  }
  const problem = check(body);
  if (problem) return { line, ...problem };
  const idText = cells.get('id')?.trim() ?? '';
  if (idText === '') return { line, entry: body as unknown as DirectoryEntryInput };
  if (!/^[1-9][0-9]{0,15}$/.test(idText)) return { line, field: 'id', message: 'must be an entry id (a whole number) or empty' };
  return { line, id: Number(idText), entry: body as unknown as DirectoryEntryInput };
}

/** Reads an import: every line an entry or an error; an unreadable file is one error on its line. */
export function readImport(text: string, check: EntryCheck): { lines: ImportLine[]; errors: LineError[] } {
  let records;
  try {
    records = parseCsv(text);
  } catch (err) {
    if (err instanceof CsvError) return { lines: [], errors: [{ line: err.line, message: err.message.replace(/^line \d+: /, '') }] };
    throw err;
  }
  const [header, ...rest] = records;
  if (!header) return { lines: [], errors: [{ line: 1, message: 'the file is empty; it needs a header line' }] };
  const columns = readHeader(header.fields);
  if (!Array.isArray(columns)) return { lines: [], errors: [columns] };
  const lines: ImportLine[] = [];
  const errors: LineError[] = [];
  const seenIds = new Map<number, number>();
  for (const r of rest) {
    const read = readLine(r.line, columns, r.fields, check);
    if ('message' in read) {
      errors.push(read);
      continue;
    }
    const earlier = read.id === undefined ? undefined : seenIds.get(read.id);
    if (earlier !== undefined) {
      errors.push({ line: r.line, field: 'id', message: `id ${String(read.id)} is already on line ${earlier}` });
      continue;
    }
    if (read.id !== undefined) seenIds.set(read.id, r.line);
    lines.push(read);
  }
  return { lines, errors };
}
