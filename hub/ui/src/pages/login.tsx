/** The login page: e-mail and password; the hub sets the session cookie and returns the CSRF token. */
import { ErrorNotice, Field } from "@steinmetz/ui-kit/form.js";
import { useState } from "preact/hooks";
import { call, setCsrfToken } from "../api.js";
import { describeError } from "../errors.js";
import { t, toggleLang } from "../i18n.js";

export function LoginPage({ onLoggedIn }: { onLoggedIn: () => void }) {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  return (
    <main class="login">
      <form
        class="card"
        aria-labelledby="login-title"
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          setError(null);
          try {
            const { body } = await call<{ csrfToken: string }>("/auth/login", {
              method: "POST",
              body: { email, password },
            });
            setCsrfToken(body.csrfToken);
            onLoggedIn();
          } catch (err) {
            setError(err);
          } finally {
            setBusy(false);
          }
        }}
      >
        <h1 id="login-title">{t("loginTitle")}</h1>
        {error ? <ErrorNotice {...describeError(error)} othersLabel={t("otherProblems")} /> : null}
        <Field
          id="email"
          label={t("email")}
          value={email}
          onValue={setEmail}
          autocomplete="username"
          required
          testId="email"
        />
        <Field
          id="password"
          label={t("password")}
          type="password"
          value={password}
          onValue={setPassword}
          autocomplete="current-password"
          required
          testId="password"
        />
        <button type="submit" disabled={busy} data-testid="login">
          {t("login")}
        </button>
        <button type="button" class="link" onClick={toggleLang} data-testid="language">
          {t("language")}
        </button>
      </form>
    </main>
  );
}
