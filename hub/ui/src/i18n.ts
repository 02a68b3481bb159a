/** The app's texts in German (the default) and English, and the language the user chose. */
import type { Lang } from "@steinmetz/ui-kit/format.js";
import { signal } from "./signal.js";

export type { Lang };

const de = {
  appName: "SteinmetZ Hub",
  login: "Anmelden",
  logout: "Abmelden",
  email: "E-Mail",
  password: "Passwort",
  loginTitle: "Anmelden beim Hub",
  language: "English",
  languageName: "Sprache",
  home: "Start",
  search: "Suchen",
  searchPlaceholder: "Name, Nummer, Ort …",
  filters: "Filter",
  all: "Alle",
  from: "von",
  to: "bis",
  apply: "Anwenden",
  reset: "Zurücksetzen",
  newRecord: "Neu",
  save: "Speichern",
  cancel: "Abbrechen",
  close: "Schließen",
  delete: "Löschen",
  edit: "Bearbeiten",
  next: "Weiter",
  first: "Erste Seite",
  previous: "Zurück",
  exportCsv: "CSV exportieren",
  columns: "Spalten",
  noRows: "Keine Einträge",
  loading: "Lädt …",
  rowsShown: "{n} Einträge angezeigt",
  sortBy: "Sortieren nach {field}",
  yes: "ja",
  no: "nein",
  required: "Pflichtfeld",
  tooLong: "Höchstens {n} Zeichen",
  tooShort: "Mindestens {n} Zeichen",
  badPattern: "Das Format stimmt nicht",
  badEmail: "Keine gültige E-Mail-Adresse",
  badNumber: "Keine gültige Zahl",
  tooSmall: "Mindestens {n}",
  tooLarge: "Höchstens {n}",
  saved: "Gespeichert",
  created: "Angelegt",
  conflictTitle: "Inzwischen geändert",
  conflictText:
    "Jemand anderes hat diesen Datensatz geändert, während Sie ihn bearbeitet haben. Ihre Änderungen sind noch nicht gespeichert.",
  conflictTheirs: "Jetzt gespeichert",
  conflictMine: "Ihre Eingabe",
  conflictReload: "Verwerfen und neu laden",
  conflictReapply: "Meine Änderungen übernehmen",
  field: "Feld",
  status: "Status",
  transitionTo: "Wechseln zu: {state}",
  readOnly: "Sie dürfen diesen Datensatz nur ansehen.",
  otherProblems: "Weitere Probleme",
  palette: "Befehle",
  palettePlaceholder: "Wohin? Liste, Seite oder „neu …“",
  goTo: "Öffnen: {target}",
  createNew: "Neu: {target}",
  shortcuts: "Tastenkürzel",
  shortcutPalette: "Befehlspalette öffnen",
  shortcutHelp: "Diese Hilfe",
  shortcutSave: "Formular speichern",
  shortcutClose: "Dialog schließen",
  recent: "Zuletzt geöffnet",
  details: "Details",
  skipToContent: "Zum Inhalt",
  notFound: "Diese Seite gibt es nicht.",
  createdAt: "Angelegt am",
  updatedAt: "Geändert am",
  version: "Version",
  selectAll: "Alle auswählen",
  selectRow: "Auswählen",
} as const;

export type TextKey = keyof typeof de;

const en: Record<TextKey, string> = {
  appName: "SteinmetZ Hub",
  login: "Log in",
  logout: "Log out",
  email: "E-mail",
  password: "Password",
  loginTitle: "Log in to the hub",
  language: "Deutsch",
  languageName: "Language",
  home: "Home",
  search: "Search",
  searchPlaceholder: "Name, number, city …",
  filters: "Filters",
  all: "All",
  from: "from",
  to: "to",
  apply: "Apply",
  reset: "Reset",
  newRecord: "New",
  save: "Save",
  cancel: "Cancel",
  close: "Close",
  delete: "Delete",
  edit: "Edit",
  next: "Next",
  first: "First page",
  previous: "Back",
  exportCsv: "Export CSV",
  columns: "Columns",
  noRows: "Nothing here",
  loading: "Loading …",
  rowsShown: "{n} rows shown",
  sortBy: "Sort by {field}",
  yes: "yes",
  no: "no",
  required: "Required",
  tooLong: "At most {n} characters",
  tooShort: "At least {n} characters",
  badPattern: "The format is not right",
  badEmail: "Not a valid e-mail address",
  badNumber: "Not a valid number",
  tooSmall: "At least {n}",
  tooLarge: "At most {n}",
  saved: "Saved",
  created: "Created",
  conflictTitle: "Changed meanwhile",
  conflictText: "Someone else changed this record while you were editing it. Your changes are not saved yet.",
  conflictTheirs: "Saved now",
  conflictMine: "Your input",
  conflictReload: "Discard and reload",
  conflictReapply: "Apply my changes",
  field: "Field",
  status: "Status",
  transitionTo: "Change to: {state}",
  readOnly: "You may only view this record.",
  otherProblems: "Other problems",
  palette: "Commands",
  palettePlaceholder: "Where to? A list, a page or “new …”",
  goTo: "Open: {target}",
  createNew: "New: {target}",
  shortcuts: "Keyboard shortcuts",
  shortcutPalette: "Open the command palette",
  shortcutHelp: "This help",
  shortcutSave: "Save the form",
  shortcutClose: "Close a dialog",
  recent: "Recently opened",
  details: "Details",
  skipToContent: "Skip to content",
  notFound: "There is no such page.",
  createdAt: "Created",
  updatedAt: "Changed",
  version: "Version",
  selectAll: "Select all",
  selectRow: "Select",
};

const KEY = "hub.lang";
const stored = (() => {
  try {
    return localStorage.getItem(KEY);
  } catch {
    return null;
  }
})();

/** The current language (German unless the user chose English). */
export const lang = signal<Lang>(stored === "en" ? "en" : "de");

export function setLang(next: Lang): void {
  try {
    localStorage.setItem(KEY, next);
  } catch {
    // private mode: the choice lasts for this page
  }
  document.documentElement.lang = next;
  lang.set(next);
}

/** A text in the current language, `{name}` replaced from `vars`. */
export function t(key: TextKey, vars: Record<string, string | number> = {}): string {
  const text: string = (lang.get() === "de" ? de : en)[key];
  return text.replace(/\{(\w+)\}/g, (_, name: string) => String(vars[name] ?? `{${name}}`));
}

/** A label the server declares in both languages. */
export const label = (l: { de: string; en: string }): string => l[lang.get()];

const ERRORS: Record<string, { de: string; en: string }> = {
  NETWORK: { de: "Der Hub antwortet nicht.", en: "The hub does not answer." },
  HUB_ERR_AUTH_FAILED: { de: "E-Mail oder Passwort stimmt nicht.", en: "E-mail or password is wrong." },
  HUB_ERR_AUTH_REQUIRED: { de: "Bitte melden Sie sich an.", en: "Please log in." },
  HUB_ERR_RATE_LIMITED: {
    de: "Zu viele Versuche; bitte in {s} s noch einmal.",
    en: "Too many attempts; try again in {s} s.",
  },
  HUB_ERR_FORBIDDEN: { de: "Das dürfen Sie nicht.", en: "You may not do that." },
  HUB_ERR_VALIDATION: { de: "Bitte prüfen Sie die markierten Felder.", en: "Please check the marked fields." },
  HUB_ERR_PRECONDITION_FAILED: {
    de: "Jemand anderes hat den Datensatz inzwischen geändert.",
    en: "Someone else changed the record meanwhile.",
  },
  HUB_ERR_NOT_FOUND: { de: "Nicht gefunden.", en: "Not found." },
  HUB_ERR_TRANSITION_NOT_ALLOWED: {
    de: "Dieser Statuswechsel ist im jetzigen Zustand nicht erlaubt.",
    en: "This status change is not allowed in the current state.",
  },
  HUB_ERR_DUPLICATE: {
    de: "Ein anderer Datensatz hat diesen Wert schon.",
    en: "Another record has this value already.",
  },
  HUB_ERR_REFERENCE_INVALID: {
    de: "Der verknüpfte Datensatz existiert nicht.",
    en: "The linked record does not exist.",
  },
  HUB_ERR_IN_USE: { de: "Der Datensatz wird noch verwendet.", en: "The record is still in use." },
  HUB_ERR_CSRF: { de: "Die Sitzung ist abgelaufen; bitte neu laden.", en: "The session expired; please reload." },
  HUB_ERR_INTERNAL: { de: "Im Hub ist ein Fehler aufgetreten.", en: "The hub had an error." },
};

/** The user's text for an error code (the code itself when none is known). */
export function errorText(code: string, vars: Record<string, string | number> = {}): string | undefined {
  const text = ERRORS[code]?.[lang.get()];
  return text?.replace(/\{(\w+)\}/g, (_, name: string) => String(vars[name] ?? "?"));
}
