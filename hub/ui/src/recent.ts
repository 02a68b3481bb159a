/** The records a user opened last (kept in the browser), for the home page and the command palette. */
export interface Recent {
  entity: string;
  id: string;
  title: string;
}

const KEY = "hub.recent";
const MAX = 10;

export function recentRecords(): Recent[] {
  try {
    const list = JSON.parse(localStorage.getItem(KEY) ?? "[]") as unknown;
    return Array.isArray(list) ? (list as Recent[]).slice(0, MAX) : [];
  } catch {
    return [];
  }
}

export function rememberRecord(record: Recent): void {
  const list = [record, ...recentRecords().filter((r) => !(r.entity === record.entity && r.id === record.id))];
  try {
    localStorage.setItem(KEY, JSON.stringify(list.slice(0, MAX)));
  } catch {
    // not kept
  }
}
