/** The devices: state, last error and poll figures; installers add and remove devices here. */
import { useState } from "preact/hooks";
import { api, ifMatch } from "../api.js";
import { ConfirmDialog } from "../components/confirm.js";
import { ErrorBox, Notice } from "../components/form.js";
import { formatDateTime, formatNumber, formatRelative } from "../format.js";
import { useNow, usePoll } from "../hooks.js";
import { errorText, t } from "../i18n.js";
import type { ConfigDoc, EdgeStatus, User } from "../types.js";
import { StatusBadge } from "./dashboard.js";

/** Saves the configuration returned by `change` (applied to the current one) with If-Match. */
export async function saveConfig(
  change: (config: ConfigDoc["config"]) => ConfigDoc["config"],
  comment: string,
): Promise<{ version: number }> {
  const doc = await api<ConfigDoc>("/api/v1/config");
  const config = change(structuredClone(doc.config));
  return api<{ version: number }>("/api/v1/config", {
    method: "PUT",
    headers: ifMatch(doc.version),
    body: { config, comment },
  });
}

/** The devices page. */
export function DevicesPage({ user }: { user: User }) {
  const installer = user.role === "installer";
  const status = usePoll<EdgeStatus>("/api/v1/status", 2000);
  const now = useNow(5000);
  const [removing, setRemoving] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState<string | null>(null);

  const remove = async (id: string) => {
    setRemoving(null);
    setError(null);
    setDone(null);
    try {
      await saveConfig(
        (config) => ({ ...config, devices: config.devices.filter((d) => d.id !== id) }),
        `remove device ${id}`,
      );
      setDone(t("deviceRemoved", { id }));
      status.reload();
    } catch (err) {
      setError(err);
    }
  };

  const devices = status.data?.devices ?? [];
  return (
    <>
      <div class="page-head">
        <h1>{t("devicesTitle")}</h1>
        {installer && (
          <a class="button" href="#/devices/add" data-testid="add-device">
            {t("addDevice")}
          </a>
        )}
      </div>
      <ErrorBox error={error ?? status.error} />
      {done && <Notice kind="success">{done}</Notice>}
      {status.data && devices.length === 0 && <p>{t("noDevices")}</p>}
      <div class="device-grid">
        {devices.map((d) => {
          const s = d.state;
          return (
            <section key={d.id} class="card device" aria-labelledby={`dev-${d.id}`} data-testid={`device-row-${d.id}`}>
              <header class="device-head">
                <h2 id={`dev-${d.id}`}>{d.id}</h2>
                <StatusBadge status={s.status} testId={`state-${d.id}`} />
              </header>
              <dl class="facts">
                <dt>{t("profile")}</dt>
                <dd>
                  <code>{d.profile}</code>
                </dd>
                <dt>{s.status === "fault" ? t("faultSince") : t("since")}</dt>
                <dd title={formatDateTime(s.since)}>{formatRelative(s.since, now)}</dd>
                {s.lastError && (
                  <>
                    <dt>{t("lastError")}</dt>
                    <dd class="error-text" data-testid={`last-error-${d.id}`} data-code={s.lastError.code}>
                      <strong>{errorText(s.lastError.code)}</strong>
                      <br />
                      <span class="detail">{s.lastError.message}</span>
                    </dd>
                  </>
                )}
                <dt>{t("requestsPerCycle")}</dt>
                <dd>{s.requestsPerCycle}</dd>
                <dt>{t("lastPoll")}</dt>
                <dd>{s.lastCycleMs === null ? "–" : `${formatNumber(s.lastCycleMs, 0)} ms`}</dd>
                <dt>{t("cycles")}</dt>
                <dd>
                  {formatNumber(s.cycles, 0)} / {formatNumber(s.failedCycles, 0)}
                </dd>
                <dt>{t("overruns")}</dt>
                <dd>{formatNumber(s.overruns, 0)}</dd>
              </dl>
              {installer && (
                <div class="actions">
                  <button
                    type="button"
                    class="danger secondary"
                    onClick={() => setRemoving(d.id)}
                    data-testid={`remove-${d.id}`}
                  >
                    {t("remove")}
                    <span class="visually-hidden"> {d.id}</span>
                  </button>
                </div>
              )}
            </section>
          );
        })}
      </div>
      <ConfirmDialog
        message={removing ? t("removeDeviceConfirm", { id: removing }) : null}
        confirmLabel={t("remove")}
        onConfirm={() => removing && void remove(removing)}
        onCancel={() => setRemoving(null)}
      />
    </>
  );
}
