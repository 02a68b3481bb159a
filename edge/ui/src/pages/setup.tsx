/** First-run setup: site name and the installer account. */
import { useState } from "preact/hooks";
import { api } from "../api.js";
import { ErrorBox, Field, splitProblems } from "../components/form.js";
import { t } from "../i18n.js";
import type { User } from "../types.js";

/** Minimum password length (the edge checks it too). */
export const MIN_PASSWORD = 10;

/** The setup form; `onDone` gets the new installer, the CSRF token and the site name. */
export function SetupPage({ onDone }: { onDone: (user: User, csrfToken: string, site: string) => void }) {
  const [siteName, setSiteName] = useState("");
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [repeat, setRepeat] = useState("");
  const [local, setLocal] = useState<Record<string, string>>({});
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    const problems: Record<string, string> = {};
    if (!siteName.trim()) problems.siteName = t("required");
    if (!username.trim()) problems.username = t("required");
    if (password.length < MIN_PASSWORD) problems.password = t("passwordTooShort");
    if (repeat !== password) problems.repeat = t("passwordMismatch");
    setLocal(problems);
    setError(null);
    if (Object.keys(problems).length > 0) return;
    setBusy(true);
    try {
      const res = await api<{ user: User; csrfToken: string }>("/api/v1/setup", {
        method: "POST",
        body: { siteName: siteName.trim(), username: username.trim(), password },
      });
      onDone(res.user, res.csrfToken, siteName.trim());
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const { fields, others } = splitProblems(error, {
    "/siteName": "siteName",
    "/username": "username",
    "/password": "password",
  });
  const err = (k: string) => local[k] ?? fields[k];
  return (
    <section class="card" aria-labelledby="setup-title">
      <h1 id="setup-title">{t("setupTitle")}</h1>
      <p>{t("setupIntro")}</p>
      <form onSubmit={submit} noValidate>
        <Field
          id="setup-site"
          label={t("siteName")}
          value={siteName}
          onValue={setSiteName}
          error={err("siteName")}
          required
          maxLength={200}
          testId="setup-site-name"
        />
        <Field
          id="setup-user"
          label={t("username")}
          value={username}
          onValue={setUsername}
          error={err("username")}
          required
          autocomplete="username"
          testId="setup-username"
        />
        <Field
          id="setup-password"
          type="password"
          label={t("password")}
          hint={t("passwordHint")}
          value={password}
          onValue={setPassword}
          error={err("password")}
          required
          minLength={MIN_PASSWORD}
          autocomplete="new-password"
          testId="setup-password"
        />
        <Field
          id="setup-repeat"
          type="password"
          label={t("passwordRepeat")}
          value={repeat}
          onValue={setRepeat}
          error={err("repeat")}
          required
          autocomplete="new-password"
          testId="setup-password-repeat"
        />
        <ErrorBox error={error} others={others} />
        <button type="submit" disabled={busy} data-testid="setup-submit">
          {t("setupSubmit")}
        </button>
      </form>
    </section>
  );
}
