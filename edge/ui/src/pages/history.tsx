/** Configuration history: versions (show, roll back), export and import of the YAML. */
import { useState } from "preact/hooks";
import { api, ifMatch } from "../api.js";
import { ConfirmDialog } from "../components/confirm.js";
import { ErrorBox, Field, Notice, ReadOnlyNote } from "../components/form.js";
import { formatDateTime } from "../format.js";
import { usePoll } from "../hooks.js";
import { t } from "../i18n.js";
import type { ConfigDoc, ConfigVersion, User } from "../types.js";

/** The history page. */
export function HistoryPage({ user }: { user: User }) {
  const ro = user.role !== "installer";
  const versions = usePoll<ConfigVersion[]>("/api/v1/config/versions");
  const [shown, setShown] = useState<{ version: number; yaml: string } | null>(null);
  const [confirming, setConfirming] = useState<number | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState<string | null>(null);
  const [yaml, setYaml] = useState("");
  const [comment, setComment] = useState("");
  const [importError, setImportError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const show = async (version: number) => {
    if (shown?.version === version) {
      setShown(null);
      return;
    }
    setError(null);
    try {
      const v = await api<ConfigVersion & { yaml: string }>(`/api/v1/config/versions/${version}`);
      setShown({ version, yaml: v.yaml });
    } catch (err) {
      setError(err);
    }
  };

  const rollback = async (version: number) => {
    setConfirming(null);
    setError(null);
    setDone(null);
    try {
      const res = await api<ConfigVersion>(`/api/v1/config/versions/${version}/rollback`, { method: "POST", body: {} });
      setDone(t("rolledBack", { n: version, m: res.version }));
      versions.reload();
    } catch (err) {
      setError(err);
    }
  };

  const importYaml = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setImportError(null);
    setDone(null);
    try {
      const current = await api<ConfigDoc>("/api/v1/config");
      const res = await api<ConfigVersion>("/api/v1/config/import", {
        method: "POST",
        headers: ifMatch(current.version),
        body: comment.trim() ? { yaml, comment: comment.trim() } : { yaml },
      });
      setDone(t("imported", { n: res.version }));
      setYaml("");
      setComment("");
      versions.reload();
    } catch (err) {
      setImportError(err);
    } finally {
      setBusy(false);
    }
  };

  const list = versions.data ?? [];
  const latest = list[0]?.version;
  return (
    <>
      <div class="page-head">
        <h1>{t("historyTitle")}</h1>
        <a class="button secondary" href="/api/v1/config/export" download data-testid="export-yaml">
          {t("exportYaml")}
        </a>
      </div>
      {ro && <ReadOnlyNote />}
      {done && <Notice kind="success">{done}</Notice>}
      <ErrorBox error={error ?? versions.error} />
      <section class="card" aria-labelledby="history-versions">
        <h2 id="history-versions">{t("versions")}</h2>
        <div class="table-scroll">
          <table class="versions stack">
            <thead>
              <tr>
                <th scope="col" class="num">
                  {t("version")}
                </th>
                <th scope="col">{t("time")}</th>
                <th scope="col">{t("author")}</th>
                <th scope="col">{t("comment")}</th>
                <th scope="col">
                  <span class="visually-hidden">{t("show")}</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.map((v) => (
                <tr key={v.version} data-testid={`version-${v.version}`}>
                  <td class="num" data-label={t("version")}>
                    {v.version}
                    {v.version === latest && <span class="badge status-ok small">{t("current")}</span>}
                  </td>
                  <td data-label={t("time")}>{formatDateTime(v.at)}</td>
                  <td data-label={t("author")}>{v.author}</td>
                  <td data-label={t("comment")}>{v.comment || "–"}</td>
                  <td class="actions">
                    <button
                      type="button"
                      class="secondary small"
                      aria-expanded={shown?.version === v.version ? "true" : "false"}
                      onClick={() => void show(v.version)}
                      data-testid={`show-${v.version}`}
                    >
                      {shown?.version === v.version ? t("hide") : t("show")}
                      <span class="visually-hidden"> {v.version}</span>
                    </button>
                    {v.version !== latest && (
                      <button
                        type="button"
                        class="secondary small"
                        disabled={ro}
                        onClick={() => setConfirming(v.version)}
                        data-testid={`rollback-${v.version}`}
                      >
                        {t("rollback")}
                        <span class="visually-hidden"> {v.version}</span>
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        {shown && (
          <>
            <h3>
              {t("version")} {shown.version}
            </h3>
            <pre class="yaml" data-testid="version-yaml">
              {shown.yaml}
            </pre>
          </>
        )}
      </section>
      <section class="card" aria-labelledby="history-import">
        <h2 id="history-import">{t("importYaml")}</h2>
        <form onSubmit={importYaml} noValidate>
          <div class="field">
            <label for="import-yaml">{t("yamlText")}</label>
            <textarea
              id="import-yaml"
              rows={10}
              value={yaml}
              disabled={ro}
              spellcheck={false}
              onInput={(e) => setYaml(e.currentTarget.value)}
              data-testid="import-yaml"
            />
          </div>
          <div class="field">
            <label for="import-file">{t("yamlFile")}</label>
            <input
              id="import-file"
              type="file"
              accept=".yaml,.yml,text/yaml"
              disabled={ro}
              onChange={async (e) => {
                const file = e.currentTarget.files?.[0];
                if (file) setYaml(await file.text());
              }}
            />
          </div>
          <Field id="import-comment" label={t("comment")} value={comment} onValue={setComment} disabled={ro} />
          <ErrorBox error={importError} others={importError ? problemsOf(importError) : []} />
          <button type="submit" disabled={ro || busy || !yaml.trim()} data-testid="import-submit">
            {t("importSubmit")}
          </button>
        </form>
      </section>
      <ConfirmDialog
        message={confirming === null ? null : t("rollbackConfirm", { n: confirming })}
        confirmLabel={t("rollback")}
        onConfirm={() => confirming !== null && void rollback(confirming)}
        onCancel={() => setConfirming(null)}
      />
    </>
  );
}

function problemsOf(error: unknown) {
  return (error as { problems?: { path: string; message: string }[] }).problems ?? [];
}
