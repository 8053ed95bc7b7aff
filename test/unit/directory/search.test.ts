import { describe, expect, it } from 'vitest';
import { buildDirectorySearch, escapeLike } from '../../../src/directory/search.js';

const base = { includePrivate: true, limit: 20, offset: 0 };

describe('buildDirectorySearch', () => {
  it('ranks q: exact name, name prefix, every word a word prefix, department, then by name', () => {
    const { text, values } = buildDirectorySearch({ ...base, q: 'Jo Sm' });
    expect(text).toMatch(/CASE WHEN name_key = \$1 THEN 0 WHEN name_key LIKE \$2 THEN 1 WHEN .* THEN 2 WHEN .* THEN 3 END/s);
    expect(text).toMatch(/ORDER BY rank, name_key, id LIMIT \$\d+ OFFSET \$\d+/);
    expect(values.slice(0, 4)).toEqual(['jo sm', 'jo sm%', 'jo%', '% jo%']);
    // q has no digits: it is not looked up as a number.
    expect(text).not.toContain('number_keys');
  });

  it('looks a q that is a number up in numbers and extensions, spaces and dashes ignored', () => {
    const { text, values } = buildDirectorySearch({ ...base, q: '79-46 0' });
    expect(text).toContain('unnest(number_keys)');
    expect(values).toContain('%79460%');
  });

  it('keeps unlisted entries from operator keys', () => {
    expect(buildDirectorySearch({ ...base, includePrivate: false }).text).toContain('WHERE NOT private');
    expect(buildDirectorySearch(base).text).not.toContain('private');
  });

  it('narrows by department and number, exact numbers before prefixes before the rest', () => {
    const { text, values } = buildDirectorySearch({ ...base, department: 'Front', number: '+44 20' });
    expect(values).toEqual(['front%', '% front%', '%4420%', '4420', '4420%', 20, 0]);
    expect(text).toMatch(/ORDER BY CASE WHEN \$4 = ANY \(number_keys\) THEN 0/);
  });

  it('matches nothing for a q or number without anything to compare, instead of everything', () => {
    expect(buildDirectorySearch({ ...base, q: '--' }).text).toMatch(/WHERE \(NULL::int\) IS NOT NULL/);
    expect(buildDirectorySearch({ ...base, number: 'abc' }).text).toContain('false');
  });

  it('takes LIKE wildcards in what is typed literally', () => {
    expect(escapeLike('50%_a\\b')).toBe('50\\%\\_a\\\\b');
    expect(buildDirectorySearch({ ...base, q: '%' }).values).toEqual([20, 0]);
  });
});
