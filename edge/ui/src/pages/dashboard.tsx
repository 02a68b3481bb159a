/** Live view: the power flow and the current values of every device. */
import { PowerFlow } from "../components/power-flow.js";
import { ValuesTable } from "../components/values-table.js";
import { formatTime } from "../format.js";
import { useLive } from "../hooks.js";
import { t, tx } from "../i18n.js";
import type { LiveSnapshot } from "../types.js";

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
      <ValuesTable values={device.values} cellTestId={(point) => `value-${device.id}-${point}`} />
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
