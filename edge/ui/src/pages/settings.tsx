/** Settings: site name and hub address (through the configuration), certificate, time, users. */
import { useEffect, useState } from "preact/hooks";
import { api } from "../api.js";
import { ConfirmDialog } from "../components/confirm.js";
import { ErrorBox, Field, Notice, ReadOnlyNote, Select, splitProblems } from "../components/form.js";
import { formatDateTime } from "../format.js";
import { usePoll } from "../hooks.js";
import { t } from "../i18n.js";
import type { ConfigDoc, TimeState, TlsState, User } from "../types.js";
import { saveConfig } from "./devices.js";
import { MIN_PASSWORD } from "./setup.js";

function SiteSection({ ro, onSiteChanged }: { ro: boolean; onSiteChanged: () => void }) {
  const doc = usePoll<ConfigDoc>("/api/v1/config");
  const [name, setName] = useState("");
  const [hubUrl, setHubUrl] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState(false);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    if (!doc.data) return;
    setName(doc.data.config.site?.name ?? "");
    setHubUrl(doc.data.config.hub?.url ?? "");
  }, [doc.data]);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setDone(false);
    try {
      await saveConfig((config) => {
        const next = { ...config, site: { ...config.site, name: name.trim() } };
        const url = hubUrl.trim();
        if (url) next.hub = { ...config.hub, url };
        else if (next.hub) {
          const { url: _dropped, ...rest } = next.hub;
          if (Object.keys(rest).length > 0) next.hub = rest;
          else delete next.hub;
        }
        return next;
      }, "settings: site name and hub address");
      setDone(true);
      onSiteChanged();
      doc.reload();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const { fields, others } = splitProblems(error, {
    "/site/name": "/site/name",
    "/site": "/site/name",
    "/hub/url": "/hub/url",
    "/hub": "/hub/url",
  });
  return (
    <section class="card" aria-labelledby="settings-site">
      <h2 id="settings-site">{t("siteSection")}</h2>
      <form onSubmit={submit} noValidate>
        <Field
          id="settings-site-name"
          label={t("siteName")}
          value={name}
          onValue={setName}
          disabled={ro}
          error={fields["/site/name"]}
          errorTestId="error-/site/name"
          testId="settings-site-name"
          maxLength={200}
        />
        <Field
          id="settings-hub-url"
          label={t("hubUrl")}
          hint={t("hubUrlHint")}
          value={hubUrl}
          onValue={setHubUrl}
          disabled={ro}
          error={fields["/hub/url"]}
          errorTestId="error-/hub/url"
          testId="settings-hub-url"
          placeholder="hub.example.com:50051"
          autocomplete="off"
        />
        <ErrorBox error={error ?? doc.error} others={others} />
        {done && <Notice kind="success">{t("saved")}</Notice>}
        <button type="submit" disabled={ro || busy || !doc.data} data-testid="settings-save">
          {t("save")}
        </button>
      </form>
    </section>
  );
}

function CertificateSection({ ro }: { ro: boolean }) {
  const tls = usePoll<TlsState>("/api/v1/tls");
  const [bundle, setBundle] = useState("");
  const [code, setCode] = useState("");
  /** The outcome of the last submit, shown at the form it came from. */
  const [result, setResult] = useState<{ form: "code" | "bundle"; error: unknown } | null>(null);
  const [busy, setBusy] = useState(false);
  /** Installs a bundle, or enrolls with a one-time code (the edge makes its own key; the hub signs it). */
  const submit = (form: "code" | "bundle", path: string, body: object, clear: () => void) => async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setResult(null);
    try {
      await api<TlsState>(path, { method: "POST", body });
      setResult({ form, error: null });
      clear();
      tls.reload();
    } catch (error) {
      setResult({ form, error });
    } finally {
      setBusy(false);
    }
  };
  const install = submit("bundle", "/api/v1/tls/bundle", { bundle }, () => setBundle(""));
  const enroll = submit("code", "/api/v1/tls/enroll", { code: code.trim() }, () => setCode(""));
  const outcome = (form: "code" | "bundle") =>
    result?.form !== form ? null : result.error ? (
      <ErrorBox error={result.error} />
    ) : (
      <Notice kind="success">{t("bundleInstalled")}</Notice>
    );
  const s = tls.data;
  return (
    <section class="card" aria-labelledby="settings-cert">
      <h2 id="settings-cert">{t("certificate")}</h2>
      <ErrorBox error={tls.error} />
      {s && (
        <dl class="facts" data-testid="tls-state">
          <dt>{t("enrolled")}</dt>
          <dd data-testid="tls-enrolled" data-enrolled={String(s.enrolled)}>
            {s.enrolled ? t("yes") : t("no")}
            {s.insecureDev ? ` · ${t("insecureDev")}` : ""}
          </dd>
          <dt>{t("edgeId")}</dt>
          <dd>
            <code>{s.edgeId}</code>
          </dd>
          <dt>{t("fingerprint")}</dt>
          <dd class="break">
            <code>{s.fingerprint ?? "–"}</code>
          </dd>
          <dt>{t("validUntil")}</dt>
          <dd>{s.notAfter ? formatDateTime(s.notAfter) : "–"}</dd>
        </dl>
      )}
      <form onSubmit={enroll} noValidate>
        <div class="field">
          <label for="settings-enroll-code">{t("enrollCode")}</label>
          <input
            id="settings-enroll-code"
            value={code}
            disabled={ro}
            spellcheck={false}
            autocomplete="off"
            placeholder="stz1.…"
            onInput={(e) => setCode(e.currentTarget.value)}
            data-testid="settings-enroll-code"
          />
          <p class="hint">{t("enrollCodeHint")}</p>
        </div>
        {outcome("code")}
        <button type="submit" disabled={ro || busy || !code.trim()} data-testid="settings-enroll">
          {t("enroll")}
        </button>
      </form>
      <hr />
      <form onSubmit={install} noValidate>
        <div class="field">
          <label for="settings-bundle">{t("bundle")}</label>
          <textarea
            id="settings-bundle"
            rows={6}
            value={bundle}
            disabled={ro}
            spellcheck={false}
            placeholder="-----BEGIN CERTIFICATE-----"
            onInput={(e) => setBundle(e.currentTarget.value)}
            data-testid="settings-bundle"
          />
        </div>
        <div class="field">
          <label for="settings-bundle-file">{t("bundleFile")}</label>
          <input
            id="settings-bundle-file"
            type="file"
            accept=".pem,.crt,.key,.txt"
            disabled={ro}
            onChange={async (e) => {
              const file = e.currentTarget.files?.[0];
              if (file) setBundle(await file.text());
            }}
          />
        </div>
        {outcome("bundle")}
        <button type="submit" disabled={ro || busy || !bundle.trim()} data-testid="settings-install-bundle">
          {t("installBundle")}
        </button>
      </form>
    </section>
  );
}

function TimeSection() {
  const time = usePoll<TimeState>("/api/v1/time", 10_000);
  const s = time.data;
  return (
    <section class="card" aria-labelledby="settings-time">
      <h2 id="settings-time">{t("timeSection")}</h2>
      <ErrorBox error={time.error} />
      {s && (
        <dl class="facts">
          <dt>{t("now")}</dt>
          <dd data-testid="time-now">{formatDateTime(s.now, s.timeZone)}</dd>
          <dt>{t("timeZone")}</dt>
          <dd>{s.timeZone}</dd>
          <dt>{t("clockSynced")}</dt>
          <dd
            data-testid="time-synced"
            data-synced={String(s.clockSynced)}
            class={s.clockSynced ? undefined : "warn-text"}
          >
            {s.clockSynced ? t("yes") : t("no")}
          </dd>
        </dl>
      )}
    </section>
  );
}

function UsersSection({ me }: { me: User }) {
  const users = usePoll<User[]>("/api/v1/users");
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [role, setRole] = useState<User["role"]>("viewer");
  const [local, setLocal] = useState<Record<string, string>>({});
  const [error, setError] = useState<unknown>(null);
  const [deleting, setDeleting] = useState<string | null>(null);

  const add = async (e: Event) => {
    e.preventDefault();
    const problems: Record<string, string> = {};
    if (!username.trim()) problems.username = t("required");
    if (password.length < MIN_PASSWORD) problems.password = t("passwordTooShort");
    setLocal(problems);
    setError(null);
    if (Object.keys(problems).length > 0) return;
    try {
      await api("/api/v1/users", { method: "POST", body: { username: username.trim(), password, role } });
      setUsername("");
      setPassword("");
      users.reload();
    } catch (err) {
      setError(err);
    }
  };
  const remove = async (name: string) => {
    setDeleting(null);
    setError(null);
    try {
      await api(`/api/v1/users/${encodeURIComponent(name)}`, { method: "DELETE" });
      users.reload();
    } catch (err) {
      setError(err);
    }
  };
  const { fields, others } = splitProblems(error, {
    "/username": "username",
    "/password": "password",
    "/role": "role",
  });
  return (
    <section class="card" aria-labelledby="settings-users">
      <h2 id="settings-users">{t("usersSection")}</h2>
      <ErrorBox error={users.error} />
      <ul class="user-list" data-testid="users">
        {(users.data ?? []).map((u) => (
          <li key={u.username} data-testid={`user-${u.username}`}>
            <span>
              <strong>{u.username}</strong> {u.username === me.username ? t("you") : ""}
              <span class="muted"> · {u.role === "installer" ? t("roleInstaller") : t("roleViewer")}</span>
            </span>
            {u.username !== me.username && (
              <button
                type="button"
                class="danger secondary small"
                onClick={() => setDeleting(u.username)}
                data-testid={`delete-user-${u.username}`}
              >
                {t("remove")}
                <span class="visually-hidden"> {u.username}</span>
              </button>
            )}
          </li>
        ))}
      </ul>
      <form onSubmit={add} noValidate>
        <h3>{t("addUser")}</h3>
        <div class="row">
          <Field
            id="user-name"
            label={t("username")}
            value={username}
            onValue={setUsername}
            error={local.username || fields.username}
            autocomplete="off"
          />
          <Field
            id="user-password"
            type="password"
            label={t("password")}
            hint={t("passwordHint")}
            value={password}
            onValue={setPassword}
            error={local.password || fields.password}
            autocomplete="new-password"
          />
          <Select
            id="user-role"
            label={t("role")}
            value={role}
            onValue={(v) => setRole(v as User["role"])}
            error={fields.role}
            options={[
              { value: "viewer", label: t("roleViewer") },
              { value: "installer", label: t("roleInstaller") },
            ]}
          />
        </div>
        <ErrorBox error={error} others={others} />
        <button type="submit" data-testid="add-user">
          {t("addUser")}
        </button>
      </form>
      <ConfirmDialog
        message={deleting ? t("deleteUserConfirm", { name: deleting }) : null}
        confirmLabel={t("remove")}
        onConfirm={() => deleting && void remove(deleting)}
        onCancel={() => setDeleting(null)}
      />
    </section>
  );
}

/** The settings page; a viewer sees everything read-only. */
export function SettingsPage({ user, onSiteChanged }: { user: User; onSiteChanged: () => void }) {
  const ro = user.role !== "installer";
  return (
    <>
      <h1>{t("settingsTitle")}</h1>
      {ro && <ReadOnlyNote />}
      <div class="grid-2">
        <SiteSection ro={ro} onSiteChanged={onSiteChanged} />
        <TimeSection />
        <CertificateSection ro={ro} />
        {!ro && <UsersSection me={user} />}
      </div>
    </>
  );
}
