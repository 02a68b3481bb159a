/** Login with user name and password. */
import { useEffect, useState } from "preact/hooks";
import { ApiError, api } from "../api.js";
import { ErrorBox, Field } from "../components/form.js";
import { t } from "../i18n.js";
import type { User } from "../types.js";

/** The login form; `onDone` gets the user and the CSRF token. */
export function LoginPage({ onDone }: { onDone: (user: User, csrfToken: string) => void }) {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [waitUntil, setWaitUntil] = useState(0);
  const [, setTick] = useState(0);

  useEffect(() => {
    if (waitUntil <= Date.now()) return;
    const timer = setInterval(() => {
      setTick((n) => n + 1);
      if (Date.now() >= waitUntil) clearInterval(timer);
    }, 1000);
    return () => clearInterval(timer);
  }, [waitUntil]);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const res = await api<{ user: User; csrfToken: string }>("/api/v1/login", {
        method: "POST",
        body: { username: username.trim(), password },
      });
      onDone(res.user, res.csrfToken);
    } catch (err) {
      setError(err);
      if (err instanceof ApiError && err.code === "EDGE_ERR_AUTH_RATE_LIMITED" && err.retryAfterS) {
        setWaitUntil(Date.now() + err.retryAfterS * 1000);
      }
    } finally {
      setBusy(false);
    }
  };

  const remaining = Math.max(0, Math.ceil((waitUntil - Date.now()) / 1000));
  const shown =
    error instanceof ApiError && error.code === "EDGE_ERR_AUTH_RATE_LIMITED" && remaining > 0
      ? new ApiError(error.status, error.code, error.detail, [], remaining)
      : error;
  return (
    <section class="card" aria-labelledby="login-title">
      <h1 id="login-title">{t("loginTitle")}</h1>
      <form onSubmit={submit}>
        <Field
          id="login-user"
          label={t("username")}
          value={username}
          onValue={setUsername}
          required
          autocomplete="username"
          testId="login-username"
        />
        <Field
          id="login-password"
          type="password"
          label={t("password")}
          value={password}
          onValue={setPassword}
          required
          autocomplete="current-password"
          testId="login-password"
        />
        <ErrorBox error={shown} />
        <button type="submit" disabled={busy || remaining > 0} data-testid="login-submit">
          {t("loginSubmit")}
        </button>
      </form>
    </section>
  );
}
