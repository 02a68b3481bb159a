/**
 * A field's value between the form (text in an input) and the API (JSON), its display in lists,
 * and its check against the field's schema as the hub declares it. The checks are plain code
 * over the declared keywords (no schema compiled at run time, nothing evaluated).
 */
import { formatDate, formatDateTime, formatMoney, formatNumber } from "@steinmetz/ui-kit/format.js";
import { label, lang, t } from "./i18n.js";
import type { FieldMeta, JsonSchema } from "./meta.js";

/** The form's text of an API value. */
export function toInput(field: FieldMeta, value: unknown): string {
  if (value === null || value === undefined) return "";
  if (field.kind === "cents") return formatNumber(lang.get(), Number(value) / 100, 2).replace(/\./g, "");
  if (field.kind === "decimal") return String(value).replace(".", lang.get() === "de" ? "," : ".");
  if (field.kind === "boolean") return value ? "true" : "false";
  return String(value);
}

/** Parses a number as the user types it (German: comma decimal, dots grouping). */
function parseNumber(text: string): number {
  const cleaned = lang.get() === "de" ? text.replace(/\./g, "").replace(",", ".") : text.replace(/,/g, "");
  return cleaned.trim() === "" ? Number.NaN : Number(cleaned);
}

/** The API value of the form's text; `undefined` for an empty optional field left out. */
export function fromInput(field: FieldMeta, text: string): unknown {
  if (field.kind === "boolean") return text === "true";
  // empty: null where the field may be empty, else left out (the hub's default applies)
  if (text.trim() === "") return field.nullable ? null : undefined;
  if (field.kind === "integer") return parseNumber(text);
  if (field.kind === "cents") return Math.round(parseNumber(text) * 100);
  if (field.kind === "decimal") return parseNumber(text);
  return text;
}

const schemaOf = (field: FieldMeta): JsonSchema => field.schema.anyOf?.find((s) => s.type !== "null") ?? field.schema;

/** The message of a value that breaks the field's declaration, or undefined. */
export function check(field: FieldMeta, text: string): string | undefined {
  const empty = text.trim() === "";
  if (empty) return field.required ? t("required") : undefined;
  if (field.kind === "boolean" || field.kind === "enum" || field.kind === "ref") return undefined;
  const s = schemaOf(field);
  if (field.kind === "integer" || field.kind === "cents" || field.kind === "decimal") {
    const n = fromInput(field, text) as number;
    if (!Number.isFinite(n) || (field.kind === "integer" && !Number.isInteger(n))) return t("badNumber");
    const unit = field.kind === "cents" ? 100 : 1;
    if (s.minimum !== undefined && n < s.minimum) return t("tooSmall", { n: s.minimum / unit });
    if (s.maximum !== undefined && n > s.maximum) return t("tooLarge", { n: s.maximum / unit });
    return undefined;
  }
  if (s.maxLength !== undefined && text.length > s.maxLength) return t("tooLong", { n: s.maxLength });
  if (s.minLength !== undefined && text.length < s.minLength) return t("tooShort", { n: s.minLength });
  if (field.kind === "email" && !/^[^@\s]+@[^@\s]+$/.test(text)) return t("badEmail");
  if (s.pattern && !new RegExp(s.pattern, "u").test(text)) return t("badPattern");
  if (s.format === "date" && !/^\d{4}-\d{2}-\d{2}$/.test(text)) return t("badPattern");
  return undefined;
}

/** A value as a list cell shows it. */
export function display(field: FieldMeta, value: unknown): string {
  if (value === null || value === undefined || value === "") return "–";
  const l = lang.get();
  switch (field.kind) {
    case "enum": {
      const option = field.options?.find((o) => o.value === value);
      return option ? label(option.label) : String(value);
    }
    case "boolean":
      return value ? t("yes") : t("no");
    case "cents":
      return formatMoney(l, Number(value));
    case "decimal":
    case "integer":
      return formatNumber(l, Number(value), 3);
    case "date":
      return formatDate(l, String(value));
    case "timestamp":
      return formatDateTime(l, String(value));
    default:
      return String(value);
  }
}
