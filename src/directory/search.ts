/**
 * Directory search as one parameterised SQL statement, built here without I/O.
 *
 * `q` is what an operator types: a name, the start of a name or of any word of it, a department
 * or a number. Results are ranked: the exact name first, then names starting with q, then names
 * with a word starting with each word of q, then departments that match the same way, then
 * numbers or extensions containing q's digits; within a rank, by name. `department` and `number`
 * narrow the search (a department matched the same way; a number or extension containing the
 * digits, exact matches first, then those starting with them).
 */
import { foldText, numberKey } from './entry.js';

export interface DirectorySearch {
  q?: string;
  department?: string;
  number?: string;
  /** False for operator keys: unlisted entries stay hidden. */
  includePrivate: boolean;
  limit: number;
  offset: number;
}

export interface Statement {
  text: string;
  values: unknown[];
}

/** Why an entry matched q, by rank. */
export const MATCHES = ['name', 'name-prefix', 'word', 'department', 'number'] as const;
export type Match = (typeof MATCHES)[number];

/** LIKE's wildcards and escape character taken literally. */
export function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

class Params {
  readonly values: unknown[] = [];

  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

/** Every word of `words` starts a word of `column` (a folded key: words separated by one space). */
function wordsStartWords(p: Params, column: string, words: string[]): string {
  return words
    .map((w) => `(${column} LIKE ${p.add(`${escapeLike(w)}%`)} OR ${column} LIKE ${p.add(`% ${escapeLike(w)}%`)})`)
    .join(' AND ');
}

function containsNumber(p: Params, digits: string): string {
  return `EXISTS (SELECT 1 FROM unnest(number_keys) k WHERE k LIKE ${p.add(`%${escapeLike(digits)}%`)})`;
}

/** The rank of q's match (0 = MATCHES[0]); NULL when q matches nothing. */
function rankOfQ(p: Params, q: string): string | undefined {
  const key = foldText(q);
  const digits = numberKey(q);
  const tiers: string[] = [];
  if (key !== '') {
    const words = key.split(' ');
    tiers.push(`WHEN name_key = ${p.add(key)} THEN 0`);
    tiers.push(`WHEN name_key LIKE ${p.add(`${escapeLike(key)}%`)} THEN 1`);
    tiers.push(`WHEN ${wordsStartWords(p, 'name_key', words)} THEN 2`);
    tiers.push(`WHEN ${wordsStartWords(p, 'department_key', words)} THEN 3`);
  }
  // A name with a digit in it is no number: only a q that is a number is looked up as one.
  if (digits !== '' && /^[0-9*#+ ()./-]+$/.test(q.trim())) tiers.push(`WHEN ${containsNumber(p, digits)} THEN 4`);
  return tiers.length === 0 ? undefined : `CASE ${tiers.join(' ')} END`;
}

/** The statement that returns one page of matches with `rank` and the total of all matches. */
export function buildDirectorySearch(s: DirectorySearch): Statement {
  const p = new Params();
  const where: string[] = [];
  const order: string[] = [];
  let rank = 'NULL::int';
  if (!s.includePrivate) where.push('NOT private');
  if (s.q !== undefined && s.q.trim() !== '') {
    // A q with nothing to compare (only punctuation) matches nothing rather than everything.
    rank = rankOfQ(p, s.q) ?? 'NULL::int';
    where.push(`(${rank}) IS NOT NULL`);
    order.push('rank');
  }
  if (s.department !== undefined && s.department.trim() !== '') {
    const words = foldText(s.department).split(' ');
    where.push(words[0] === '' ? 'false' : `(${wordsStartWords(p, 'department_key', words)})`);
  }
  if (s.number !== undefined && s.number.trim() !== '') {
    const digits = numberKey(s.number);
    if (digits === '') {
      where.push('false');
    } else {
      where.push(containsNumber(p, digits));
      const exact = p.add(digits);
      const prefix = p.add(`${escapeLike(digits)}%`);
      order.push(`CASE WHEN ${exact} = ANY (number_keys) THEN 0
        WHEN EXISTS (SELECT 1 FROM unnest(number_keys) k WHERE k LIKE ${prefix}) THEN 1 ELSE 2 END`);
    }
  }
  order.push('name_key', 'id');
  const limit = p.add(s.limit);
  const offset = p.add(s.offset);
  const text = `SELECT *, (${rank}) AS rank, count(*) OVER () AS total FROM directory_entries
    ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
    ORDER BY ${order.join(', ')} LIMIT ${limit} OFFSET ${offset}`;
  return { text, values: p.values };
}
