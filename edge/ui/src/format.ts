/** Number, power, size and time formatting in the current language (the UI kit's, with the edge's units). */
import * as kit from "@steinmetz/ui-kit/format.js";
import { currentLang } from "./i18n.js";

function locale(): string {
  return kit.localeOf(currentLang());
}

/** A number with at most `digits` fraction digits in the current language. */
export function formatNumber(value: number, digits = 1): string {
  return kit.formatNumber(currentLang(), value, digits);
}

/** A power in W below 1 kW, otherwise in kW (absolute value; direction is shown separately). */
export function formatPower(watts: number): string {
  const w = Math.abs(watts);
  if (w < 1000) return `${formatNumber(w, 0)} W`;
  return `${formatNumber(w / 1000, w < 10_000 ? 2 : 1)} kW`;
}

/**
 * A measured value as plain numeric text (dot decimal, no grouping, at most 3 fraction digits),
 * stable for scripts and tests reading the page; "–" when there is none.
 */
export function plainValue(value: number | null): string {
  if (value === null || !Number.isFinite(value)) return "–";
  return String(Math.round(value * 1000) / 1000);
}

/** A byte count in B, KiB, MiB or GiB. */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${formatNumber(v, i === 0 ? 0 : 1)} ${units[i]}`;
}

/** A duration in ms as the largest sensible unit ("3 min", "2 h", "5 d"). */
export function formatDuration(ms: number): string {
  const s = ms / 1000;
  if (s < 1) return `${formatNumber(ms, 0)} ms`;
  if (s < 90) return `${formatNumber(s, 0)} s`;
  if (s < 5400) return `${formatNumber(s / 60, 0)} min`;
  if (s < 172_800) return `${formatNumber(s / 3600, 1)} h`;
  return `${formatNumber(s / 86_400, 1)} d`;
}

/** A time relative to now ("vor 3 Minuten" / "3 minutes ago"). */
export function formatRelative(ts: number, now = Date.now()): string {
  const rtf = new Intl.RelativeTimeFormat(locale(), { numeric: "auto" });
  // A time a little ahead of this browser's clock (the edge's clock differs) reads as "now".
  const s = Math.min(0, Math.round((ts - now) / 1000));
  const a = Math.abs(s);
  if (a < 60) return rtf.format(s, "second");
  if (a < 3600) return rtf.format(Math.round(s / 60), "minute");
  if (a < 86_400) return rtf.format(Math.round(s / 3600), "hour");
  return rtf.format(Math.round(s / 86_400), "day");
}

/** An absolute date and time ("13.05.2025, 14:03:12"). */
export function formatDateTime(ts: number | string, timeZone?: string): string {
  const d = new Date(ts);
  if (Number.isNaN(d.getTime())) return String(ts);
  return new Intl.DateTimeFormat(locale(), { dateStyle: "medium", timeStyle: "medium", timeZone }).format(d);
}

/** A time of day ("14:03:12"). */
export function formatTime(ts: number): string {
  return new Intl.DateTimeFormat(locale(), { timeStyle: "medium" }).format(new Date(ts));
}
