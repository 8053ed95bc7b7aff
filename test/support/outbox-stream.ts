/** Reading the record outbox stream in tests: an entry carries one record or a batch of them. */
import { RECORD_FIELD, RECORDS_FIELD } from '../../src/cdr/outbox.js';
import { recordId } from '../../src/cdr/record-tables.js';
import type { HistoryRecord } from '../../src/cdr/records.js';

export type StreamEntry = [id: string, fields: string[]];

/** The records of one entry, in the order they were pushed; none for an entry that is not JSON. */
export function entryRecords(entry: StreamEntry): HistoryRecord[] {
  try {
    return parseEntry(entry);
  } catch {
    return [];
  }
}

function parseEntry([, fields]: StreamEntry): HistoryRecord[] {
  const at = (name: string): string | undefined => {
    for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
    return undefined;
  };
  const list = at(RECORDS_FIELD);
  if (list !== undefined) return JSON.parse(list) as HistoryRecord[];
  const one = at(RECORD_FIELD);
  return one === undefined ? [] : [JSON.parse(one) as HistoryRecord];
}

/** Every record of the stream's entries, in stream order. */
export function streamRecords(entries: StreamEntry[]): HistoryRecord[] {
  return entries.flatMap(entryRecords);
}

/** The id of the entry that carries a record. */
export function entryIdOf(entries: StreamEntry[], record: HistoryRecord): string | undefined {
  const id = recordId(record);
  return entries.find((e) => entryRecords(e).some((r) => r.kind === record.kind && recordId(r) === id))?.[0];
}
