/**
 * Some browsers (headless ones started with LANG=C or POSIX locales) report a language tag that
 * Intl rejects, e.g. "en-US@posix"; uPlot formats numbers with `navigator.language` as soon as it
 * loads, which would stop the whole UI. Imported first, this replaces such a tag with "en-US".
 */
function validTag(tag: string): boolean {
  try {
    new Intl.NumberFormat(tag);
    return true;
  } catch {
    return false;
  }
}

if (typeof navigator !== "undefined" && !validTag(navigator.language)) {
  Object.defineProperty(navigator, "language", { value: "en-US", configurable: true });
}

/** True once the guard ran (imported for its effect). */
export const LOCALE_GUARDED = true;
