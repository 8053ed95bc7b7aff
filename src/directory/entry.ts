/**
 * A directory entry and the search keys stored with it. Pure: no I/O. The keys are what search
 * compares against, computed the same way for what is stored and for what is asked.
 */

export interface PhoneNumber {
  /** What kind of number ("mobile", "desk"); may be empty. */
  label: string;
  number: string;
}

/** What clients write: everything but the id and the times. */
export interface DirectoryEntryInput {
  name: string;
  department: string;
  /** The room or extension to transfer to. */
  extension: string | null;
  numbers: PhoneNumber[];
  notes: string;
  /** Unlisted: operator keys never see it. */
  private: boolean;
}

export interface DirectoryEntry extends DirectoryEntryInput {
  id: number;
  createdAt: Date;
  updatedAt: Date;
}

/** One line of an import, checked: an entry, replacing the entry `id` if given. */
export interface ImportLine {
  line: number;
  id?: number;
  entry: DirectoryEntryInput;
}

export interface SearchKeys {
  nameKey: string;
  departmentKey: string;
  numberKeys: string[];
}

/**
 * Text as search compares it: lower case, accents dropped ("Müller" is found as "muller"),
 * anything but letters and digits a single space, so every word starts after a space.
 */
export function foldText(text: string): string {
  return text
    .normalize('NFD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim();
}

/** A number as search compares it: its digits, * and # only ("+44 (20) 7946-0000" is "442079460000"). */
export function numberKey(number: string): string {
  return number.replace(/[^0-9*#]/g, '');
}

export function searchKeys(entry: Pick<DirectoryEntryInput, 'name' | 'department' | 'extension' | 'numbers'>): SearchKeys {
  const numbers = [...entry.numbers.map((n) => n.number), ...(entry.extension === null ? [] : [entry.extension])];
  const numberKeys = [...new Set(numbers.map(numberKey).filter((k) => k !== ''))];
  return { nameKey: foldText(entry.name), departmentKey: foldText(entry.department), numberKeys };
}

/** The numbers as one CSV cell: "desk: +44 20 7946 0000; mobile: 07700 900123". */
export function formatNumbers(numbers: readonly PhoneNumber[]): string {
  return numbers.map((n) => (n.label === '' ? n.number : `${n.label}: ${n.number}`)).join('; ');
}

/** The reverse of formatNumbers; empty parts are skipped. */
export function parseNumbers(cell: string): PhoneNumber[] {
  return cell
    .split(';')
    .map((part) => part.trim())
    .filter((part) => part !== '')
    .map((part) => {
      const colon = part.indexOf(':');
      if (colon === -1) return { label: '', number: part };
      return { label: part.slice(0, colon).trim(), number: part.slice(colon + 1).trim() };
    });
}
