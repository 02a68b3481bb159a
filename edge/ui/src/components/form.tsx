/** Form building blocks: labelled fields with their error, error boxes and notes. */
import type { ComponentChildren } from "preact";
import { ApiError, type Problem } from "../api.js";
import { errorText, t } from "../i18n.js";

/** Props of a labelled input. */
export interface FieldProps {
  id: string;
  label: string;
  value: string;
  onValue: (value: string) => void;
  type?: "text" | "password" | "search" | "number" | "url";
  hint?: string;
  error?: string | undefined;
  /** data-testid of the input. */
  testId?: string;
  /** data-testid of the error text (default `error-<id>`). */
  errorTestId?: string;
  disabled?: boolean;
  required?: boolean;
  autocomplete?: string;
  placeholder?: string;
  maxLength?: number;
  minLength?: number;
  inputMode?: "numeric" | "text";
  /** Extra class of the input (`short` for narrow numbers). */
  class?: string;
}

/** An input with its `<label for>`, an optional hint and the error shown right at it. */
export function Field(props: FieldProps) {
  const { id, label, value, onValue, type = "text", hint, error, testId, errorTestId } = props;
  const described = [hint ? `${id}-hint` : "", error ? `${id}-error` : ""].filter(Boolean).join(" ");
  return (
    <div class={error ? "field invalid" : "field"}>
      <label for={id}>{label}</label>
      <input
        id={id}
        name={id}
        value={value}
        onInput={(e) => onValue(e.currentTarget.value)}
        aria-invalid={error ? "true" : undefined}
        aria-describedby={described || undefined}
        data-testid={testId}
        type={type as "text"}
        disabled={props.disabled}
        required={props.required}
        autocomplete={props.autocomplete}
        placeholder={props.placeholder}
        maxLength={props.maxLength}
        minLength={props.minLength}
        inputMode={props.inputMode}
        class={props.class}
      />
      {hint && (
        <p class="hint" id={`${id}-hint`}>
          {hint}
        </p>
      )}
      {error && (
        <p class="field-error" id={`${id}-error`} data-testid={errorTestId ?? `error-${id}`}>
          {error}
        </p>
      )}
    </div>
  );
}

/** Props of a labelled select. */
export interface SelectProps {
  id: string;
  label: string;
  value: string;
  onValue: (value: string) => void;
  options: { value: string; label: string }[];
  disabled?: boolean;
  error?: string | undefined;
  testId?: string;
  errorTestId?: string;
}

/** A select with its `<label for>` and the error shown at it. */
export function Select({ id, label, value, onValue, options, disabled, error, testId, errorTestId }: SelectProps) {
  return (
    <div class={error ? "field invalid" : "field"}>
      <label for={id}>{label}</label>
      <select
        id={id}
        name={id}
        value={value}
        disabled={disabled}
        onChange={(e) => onValue(e.currentTarget.value)}
        aria-invalid={error ? "true" : undefined}
        aria-describedby={error ? `${id}-error` : undefined}
        data-testid={testId}
      >
        {options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
      {error && (
        <p class="field-error" id={`${id}-error`} data-testid={errorTestId ?? `error-${id}`}>
          {error}
        </p>
      )}
    </div>
  );
}

/** Codes whose detail text adds nothing for the user (the translation says it all). */
const SILENT_DETAIL = new Set([
  "NETWORK",
  "EDGE_ERR_AUTH_REQUIRED",
  "EDGE_ERR_AUTH_FAILED",
  "EDGE_ERR_AUTH_RATE_LIMITED",
  "EDGE_ERR_FORBIDDEN",
  "EDGE_ERR_CSRF",
  "EDGE_ERR_CONFIG_CONFLICT",
]);

/** The translated message of any error (ApiError codes; anything else as text). */
export function describeError(error: unknown): { text: string; detail: string | null; code: string } {
  if (error instanceof ApiError) {
    const text = errorText(error.code, { s: error.retryAfterS ?? "?" });
    // A configuration's problems are listed at the fields or below; its detail only repeats them.
    const listed = error.code === "EDGE_ERR_CONFIG_INVALID" && error.problems.length > 0;
    const detail =
      SILENT_DETAIL.has(error.code) || listed || !error.detail || error.detail === text ? null : error.detail;
    return { text: text === error.code ? error.detail || error.code : text, detail, code: error.code };
  }
  return { text: errorText("EDGE_ERR_INTERNAL"), detail: String(error), code: "EDGE_ERR_INTERNAL" };
}

/** An error message box (role alert) with the error's translated text, its detail and code. */
export function ErrorBox({ error, others }: { error: unknown; others?: Problem[] }) {
  if (!error) return null;
  const { text, detail, code } = describeError(error);
  return (
    <div class="notice error" role="alert" data-testid="error" data-code={code}>
      <p>
        <strong>{text}</strong>
      </p>
      {detail && <p class="detail">{detail}</p>}
      {others && others.length > 0 && (
        <>
          <p>{t("otherProblems")}:</p>
          <ul>
            {others.map((p) => (
              <li key={p.path + p.message}>
                <code>{p.path || "/"}</code> {p.message}
              </li>
            ))}
          </ul>
        </>
      )}
    </div>
  );
}

/** A calm note (success or information), announced politely. */
export function Notice({
  kind = "info",
  children,
}: {
  kind?: "info" | "success" | "warn";
  children: ComponentChildren;
}) {
  return (
    <div class={`notice ${kind}`} role="status">
      {children}
    </div>
  );
}

/**
 * Splits an error's problems into those belonging to a known field (JSON pointer → message) and
 * the rest. `paths` maps pointers (exact, or a prefix ending in `/`) to field keys.
 */
export function splitProblems(
  error: unknown,
  paths: Record<string, string>,
): { fields: Record<string, string>; others: Problem[] } {
  const fields: Record<string, string> = {};
  const others: Problem[] = [];
  if (!(error instanceof ApiError)) return { fields, others };
  for (const p of error.problems) {
    const key =
      paths[p.path] ?? Object.entries(paths).find(([prefix]) => prefix.endsWith("/") && p.path.startsWith(prefix))?.[1];
    if (key && !fields[key]) fields[key] = p.message;
    else if (!key) others.push(p);
  }
  return { fields, others };
}

/** The note a viewer sees above forms they may not change. */
export function ReadOnlyNote() {
  return (
    <p class="notice info" data-testid="read-only">
      {t("readOnlyNote")}
    </p>
  );
}
