/** Form building blocks: the UI kit's fields and notices, and the edge's error texts. */
import { ErrorNotice } from "@steinmetz/ui-kit/form.js";
import { ApiError, type Problem } from "../api.js";
import { errorText, t } from "../i18n.js";

export { Field, type FieldProps, Notice, Select, type SelectProps } from "@steinmetz/ui-kit/form.js";
export { splitProblems } from "@steinmetz/ui-kit/problem.js";

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
  return <ErrorNotice {...describeError(error)} others={others} othersLabel={t("otherProblems")} />;
}

/** The note a viewer sees above forms they may not change. */
export function ReadOnlyNote() {
  return (
    <p class="notice info" data-testid="read-only">
      {t("readOnlyNote")}
    </p>
  );
}
