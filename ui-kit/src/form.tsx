/** Form building blocks: labelled fields with their error right at them, error and other notices. */
import type { ComponentChildren } from "preact";
import type { Problem } from "./problem.js";

/** A field's hint and error below it (ids `<id>-hint`, `<id>-error`, named by aria-describedby). */
function Messages({
  id,
  hint,
  error,
  errorTestId,
}: {
  id: string;
  hint?: string | undefined;
  error?: string | undefined;
  errorTestId?: string | undefined;
}) {
  return (
    <>
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
    </>
  );
}

/** The aria-describedby of a field with these messages. */
const describedBy = (id: string, hint?: string, error?: string) =>
  [hint ? `${id}-hint` : "", error ? `${id}-error` : ""].filter(Boolean).join(" ") || undefined;

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
  return (
    <div class={error ? "field invalid" : "field"}>
      <label for={id}>{label}</label>
      <input
        id={id}
        name={id}
        value={value}
        onInput={(e) => onValue(e.currentTarget.value)}
        aria-invalid={error ? "true" : undefined}
        aria-describedby={describedBy(id, hint, error)}
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
      <Messages id={id} hint={hint} error={error} errorTestId={errorTestId} />
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
      <Messages id={id} error={error} errorTestId={errorTestId} />
    </div>
  );
}

/** Props of a labelled checkbox. */
export interface CheckboxProps {
  id: string;
  label: string;
  checked: boolean;
  onChecked: (checked: boolean) => void;
  disabled?: boolean;
  error?: string | undefined;
  hint?: string | undefined;
}

/** A checkbox with its label after it and the error shown at it. */
export function Checkbox({ id, label, checked, onChecked, disabled, error, hint }: CheckboxProps) {
  return (
    <div class={error ? "field check invalid" : "field check"}>
      <input
        id={id}
        name={id}
        type="checkbox"
        checked={checked}
        disabled={disabled}
        onChange={(e) => onChecked(e.currentTarget.checked)}
        aria-invalid={error ? "true" : undefined}
        aria-describedby={describedBy(id, hint, error)}
      />
      <label for={id}>{label}</label>
      <Messages id={id} hint={hint} error={error} />
    </div>
  );
}

/** Props of a labelled multi-line text. */
export interface TextAreaProps {
  id: string;
  label: string;
  value: string;
  onValue: (value: string) => void;
  maxLength?: number;
  disabled?: boolean;
  required?: boolean;
  error?: string | undefined;
  hint?: string | undefined;
}

/** A textarea with its `<label for>`, an optional hint and the error shown at it. */
export function TextArea({ id, label, value, onValue, maxLength, disabled, required, error, hint }: TextAreaProps) {
  return (
    <div class={error ? "field invalid" : "field"}>
      <label for={id}>{label}</label>
      <textarea
        id={id}
        name={id}
        value={value}
        rows={4}
        maxLength={maxLength}
        disabled={disabled}
        required={required}
        onInput={(e) => onValue(e.currentTarget.value)}
        aria-invalid={error ? "true" : undefined}
        aria-describedby={describedBy(id, hint, error)}
      />
      <Messages id={id} hint={hint} error={error} />
    </div>
  );
}

/**
 * An error box (role alert): the error's text in the user's language, the server's detail and
 * the problems no field shows, under `othersLabel`.
 */
export function ErrorNotice(props: {
  text: string;
  detail: string | null;
  code: string;
  others?: Problem[];
  othersLabel: string;
}) {
  const { text, detail, code, others, othersLabel } = props;
  return (
    <div class="notice error" role="alert" data-testid="error" data-code={code}>
      <p>
        <strong>{text}</strong>
      </p>
      {detail && <p class="detail">{detail}</p>}
      {others && others.length > 0 && (
        <>
          <p>{othersLabel}:</p>
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
