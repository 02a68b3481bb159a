/** An error as the user reads it: the code's text in their language, the hub's detail when it adds something. */
import { ApiError } from "@steinmetz/ui-kit/problem.js";
import { errorText, t } from "./i18n.js";

export function describeError(error: unknown): { text: string; detail: string | null; code: string } {
  if (error instanceof ApiError) {
    const text = errorText(error.code, { s: error.retryAfterS ?? "?" }) ?? (error.detail || error.code);
    const detail = error.detail && error.detail !== text && error.code !== "HUB_ERR_AUTH_FAILED" ? error.detail : null;
    return { text, detail, code: error.code };
  }
  return { text: errorText("HUB_ERR_INTERNAL") ?? t("notFound"), detail: String(error), code: "HUB_ERR_INTERNAL" };
}
