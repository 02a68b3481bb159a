/** Changing one's own password. */
import { useState } from "preact/hooks";
import { api } from "../api.js";
import { ErrorBox, Field, Notice, splitProblems } from "../components/form.js";
import { t } from "../i18n.js";
import { MIN_PASSWORD } from "./setup.js";

/** The change-password form. */
export function PasswordPage() {
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [repeat, setRepeat] = useState("");
  const [local, setLocal] = useState<Record<string, string>>({});
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState(false);
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    const problems: Record<string, string> = {};
    if (next.length < MIN_PASSWORD) problems.newPassword = t("passwordTooShort");
    if (repeat !== next) problems.repeat = t("passwordMismatch");
    setLocal(problems);
    setError(null);
    setDone(false);
    if (Object.keys(problems).length > 0) return;
    setBusy(true);
    try {
      await api("/api/v1/password", { method: "POST", body: { currentPassword: current, newPassword: next } });
      setDone(true);
      setCurrent("");
      setNext("");
      setRepeat("");
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const { fields, others } = splitProblems(error, {
    "/currentPassword": "currentPassword",
    "/newPassword": "newPassword",
  });
  return (
    <section class="card narrow" aria-labelledby="password-title">
      <h1 id="password-title">{t("changePassword")}</h1>
      <form onSubmit={submit} noValidate>
        <Field
          id="pw-current"
          type="password"
          label={t("currentPassword")}
          value={current}
          onValue={setCurrent}
          error={fields.currentPassword}
          autocomplete="current-password"
          required
        />
        <Field
          id="pw-new"
          type="password"
          label={t("newPassword")}
          hint={t("passwordHint")}
          value={next}
          onValue={setNext}
          error={local.newPassword ?? fields.newPassword}
          autocomplete="new-password"
          required
        />
        <Field
          id="pw-repeat"
          type="password"
          label={t("passwordRepeat")}
          value={repeat}
          onValue={setRepeat}
          error={local.repeat}
          autocomplete="new-password"
          required
        />
        <ErrorBox error={error} others={others} />
        {done && <Notice kind="success">{t("passwordChanged")}</Notice>}
        <button type="submit" disabled={busy}>
          {t("save")}
        </button>
      </form>
    </section>
  );
}
