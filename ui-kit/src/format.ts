/** Numbers, money, dates and times in a language, with `Intl` (both apps format alike). */

/** The languages of both apps. */
export type Lang = "de" | "en";

/** The locale of a language: German as in Germany, English as in the UK (24 h, day first). */
export const localeOf = (lang: Lang): string => (lang === "de" ? "de-DE" : "en-GB");

/** A number with at most `digits` fraction digits. */
export function formatNumber(lang: Lang, value: number, digits = 1): string {
  return new Intl.NumberFormat(localeOf(lang), { maximumFractionDigits: digits }).format(value);
}

/** An amount of money given in cents ("1.234,50 €"). */
export function formatMoney(lang: Lang, cents: number, currency = "EUR"): string {
  return new Intl.NumberFormat(localeOf(lang), { style: "currency", currency }).format(cents / 100);
}

/** A calendar date (`YYYY-MM-DD` or an ISO time), e.g. "07.12.2026". */
export function formatDate(lang: Lang, value: string): string {
  const date = /^\d{4}-\d{2}-\d{2}$/.test(value) ? new Date(`${value}T12:00:00Z`) : new Date(value);
  if (Number.isNaN(date.getTime())) return value;
  return new Intl.DateTimeFormat(localeOf(lang), { dateStyle: "medium", timeZone: "Europe/Berlin" }).format(date);
}

/** An instant in the company's time zone, e.g. "07.12.2026, 14:05". */
export function formatDateTime(lang: Lang, value: string | number | Date): string {
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return new Intl.DateTimeFormat(localeOf(lang), {
    dateStyle: "medium",
    timeStyle: "short",
    timeZone: "Europe/Berlin",
  }).format(date);
}
