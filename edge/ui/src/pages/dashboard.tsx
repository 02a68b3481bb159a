/** Live view: the power flow and the current values of every device. */
import { PowerFlow } from "../components/power-flow.js";
import { formatTime, plainValue } from "../format.js";
import { useLive } from "../hooks.js";
import { t, tx } from "../i18n.js";
import type { LiveSnapshot } from "../types.js";

/** A point name that may wrap after its underscores on narrow screens. */
export function PointName({ point }: { point: string }) {
  const parts = point.split("_");
  return <>{parts.map((part, i) => (i < parts.length - 1 ? [part, "_", <wbr key={`w${i}`} />] : part))}</>;
}

/** The live status line: live with the snapshot's time, waiting, or reconnecting. */
export function LiveIndicator({ connected, ts }: { connected: boolean; ts: number | null }) {
  return (
    <p
      class={connected ? "live-status ok" : "live-status down"}
      role="status"
      data-testid="live-status"
      data-connected={String(connected)}
    >
      <span class="dot" aria-hidden="true" />
      {!connected
        ? t("liveReconnecting")
        : ts === null
          ? t("liveWaiting")
          : `${t("liveConnected")} · ${t("lastUpdate", { time: formatTime(ts) })}`}
    </p>
  );
}

/** A device's status as a badge; `data-status` holds the raw word. */
export function StatusBadge({ status, testId }: { status: string; testId?: string }) {
  return (
    <span class={`badge status-${status}`} data-status={status} data-testid={testId}>
      {tx(`s.${status}`, status)}
    </span>
  );
}

function DeviceValues({ device }: { device: LiveSnapshot["devices"][number] }) {
  const headingId = `device-${device.id}-title`;
  return (
    <section class="card device" data-testid={`device-${device.id}`} aria-labelledby={headingId}>
      <header class="device-head">
        <h3 id={headingId}>{device.id}</h3>
        <StatusBadge status={device.status} />
      </header>
      <p class="muted">
        {tx(`c.${device.class}`, device.class)} · <code>{device.profile}</code>
      </p>
      <div class="table-scroll">
        <table class="values">
          <thead>
            <tr>
              <th scope="col">{t("point")}</th>
              <th scope="col" class="num">
                {t("value")}
              </th>
              <th scope="col">{t("unit")}</th>
              <th scope="col">{t("quality")}</th>
            </tr>
          </thead>
          <tbody>
            {device.values.map((v) => (
              <tr key={v.point} class={v.quality === "good" ? undefined : "bad-quality"}>
                <th scope="row">
                  <PointName point={v.point} />
                </th>
                <td class="num" data-testid={`value-${device.id}-${v.point}`}>
                  {plainValue(v.value)}
                </td>
                <td>{v.unit}</td>
                <td data-quality={v.quality}>
                  {v.quality === "good" ? (
                    tx("q.good", "good")
                  ) : (
                    <span class="quality-warn">
                      <span aria-hidden="true">⚠ </span>
                      {tx(`q.${v.quality}`, v.quality)}
                    </span>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

/** The dashboard page. */
export function DashboardPage() {
  const { snapshot, connected } = useLive();
  return (
    <>
      <div class="page-head">
        <h1>{t("powerFlow")}</h1>
        <LiveIndicator connected={connected} ts={snapshot?.ts ?? null} />
      </div>
      <PowerFlow flow={snapshot?.flow ?? null} />
      <h2>{t("currentValues")}</h2>
      {snapshot && snapshot.devices.length === 0 && <p>{t("noDevices")}</p>}
      <div class="device-grid">
        {snapshot?.devices.map((d) => (
          <DeviceValues key={d.id} device={d} />
        ))}
      </div>
    </>
  );
}
