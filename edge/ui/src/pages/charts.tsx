/** Charts of the local rollups: 24 h at 1 minute or 30 days at 15 minutes, drawn with uPlot. */
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import uPlot from "uplot";
import { api } from "../api.js";
import { ErrorBox, Select } from "../components/form.js";
import { formatNumber } from "../format.js";
import { useLive } from "../hooks.js";
import { currentLang, t } from "../i18n.js";
import type { RollupRow } from "../types.js";

type Range = "24h" | "30d";

const RANGES: Record<Range, { period: "1m" | "15m"; ms: number }> = {
  "24h": { period: "1m", ms: 86_400_000 },
  "30d": { period: "15m", ms: 30 * 86_400_000 },
};

/** Columns for uPlot: time in s, avg, min, max (null where a row has none). */
function toData(rows: RollupRow[]): uPlot.AlignedData {
  return [rows.map((r) => r.t / 1000), rows.map((r) => r.avg), rows.map((r) => r.min), rows.map((r) => r.max)];
}

function Chart({ rows, unit, label, long }: { rows: RollupRow[]; unit: string; label: string; long: boolean }) {
  const host = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const width = () => Math.max(280, el.clientWidth);
    const height = () => (el.clientWidth < 600 ? 260 : 360);
    const windowMs = RANGES[long ? "30d" : "24h"].ms;
    const fmt = (_u: uPlot, v: number | null) => (v === null ? "–" : `${formatNumber(v, 2)} ${unit}`);
    const locale = currentLang() === "de" ? "de-DE" : "en-GB";
    const tick = new Intl.DateTimeFormat(
      locale,
      long ? { day: "2-digit", month: "2-digit" } : { hour: "2-digit", minute: "2-digit" },
    );
    const full = new Intl.DateTimeFormat(locale, { dateStyle: "short", timeStyle: "short" });
    const plot = new uPlot(
      {
        width: width(),
        height: height(),
        series: [
          { label: t("time"), value: (_u, v) => (v === null ? "–" : full.format(v * 1000)) },
          { label: `${label} (${t("chartAvg")})`, stroke: "#0b57d0", width: 2, value: fmt },
          { label: t("chartMin"), stroke: "#7aa7e8", width: 1, value: fmt },
          { label: t("chartMax"), stroke: "#7aa7e8", width: 1, value: fmt },
        ],
        bands: [{ series: [3, 2], fill: "rgba(11, 87, 208, 0.12)" }],
        axes: [
          { values: (_u, splits) => splits.map((v) => tick.format(v * 1000)) },
          { label: unit, size: 64, values: (_u, splits) => splits.map((v) => formatNumber(v, 2)) },
        ],
        // The whole window (last 24 h / 30 days), however little of it has data yet.
        scales: { x: { time: true, range: () => [(Date.now() - windowMs) / 1000, Date.now() / 1000] } },
        legend: { live: true },
        cursor: { drag: { x: true, y: false } },
      },
      toData(rows),
      el,
    );
    const observer = new ResizeObserver(() => plot.setSize({ width: width(), height: height() }));
    observer.observe(el);
    return () => {
      observer.disconnect();
      plot.destroy();
    };
  }, [rows, unit, label, long, currentLang()]);
  return <div class="chart" ref={host} data-testid="chart" />;
}

/** The charts page: device, point and range, then the chart. */
export function ChartsPage() {
  const { snapshot } = useLive();
  const devices = snapshot?.devices ?? [];
  const [deviceId, setDeviceId] = useState("");
  const [point, setPoint] = useState("");
  const [range, setRange] = useState<Range>("24h");
  const [rows, setRows] = useState<RollupRow[] | null>(null);
  const [error, setError] = useState<unknown>(null);

  const device = devices.find((d) => d.id === deviceId) ?? devices[0];
  const points = device?.values ?? [];
  const pointInfo =
    points.find((p) => p.point === point) ?? points.find((p) => p.point === "active_power") ?? points[0];
  const devId = device?.id ?? "";
  const pointId = pointInfo?.point ?? "";

  const deviceOptions = useMemo(
    () => devices.map((d) => ({ value: d.id, label: d.id })),
    [devices.map((d) => d.id).join()],
  );

  useEffect(() => {
    if (!devId || !pointId) return;
    let stale = false;
    const { period, ms } = RANGES[range];
    const to = Date.now();
    const q = new URLSearchParams({ device: devId, point: pointId, period, from: String(to - ms), to: String(to) });
    setError(null);
    api<{ rows: RollupRow[] }>(`/api/v1/rollups?${q}`)
      .then((res) => {
        if (!stale) setRows(res.rows);
      })
      .catch((err) => {
        if (!stale) {
          setRows(null);
          setError(err);
        }
      });
    return () => {
      stale = true;
    };
  }, [devId, pointId, range]);

  return (
    <>
      <h1>{t("chartsTitle")}</h1>
      <form class="card filters" onSubmit={(e) => e.preventDefault()}>
        <Select
          id="chart-device"
          label={t("device")}
          value={devId}
          onValue={(v) => {
            setDeviceId(v);
            setPoint("");
          }}
          options={deviceOptions}
          testId="chart-device"
        />
        <Select
          id="chart-point"
          label={t("point")}
          value={pointId}
          onValue={setPoint}
          options={points.map((p) => ({ value: p.point, label: p.unit ? `${p.point} (${p.unit})` : p.point }))}
          testId="chart-point"
        />
        <fieldset class="segmented">
          <legend>{t("range")}</legend>
          {(["24h", "30d"] as const).map((r) => (
            <label key={r} class={range === r ? "checked" : undefined}>
              <input
                type="radio"
                name="chart-range"
                value={r}
                checked={range === r}
                onChange={() => setRange(r)}
                data-testid={`chart-range-${r}`}
              />
              {r === "24h" ? t("range24h") : t("range30d")}
            </label>
          ))}
        </fieldset>
      </form>
      <ErrorBox error={error} />
      <section class="card">
        {!devId || !pointId ? (
          <p>{t("chartPick")}</p>
        ) : rows && rows.length === 0 ? (
          <p>{t("chartEmpty")}</p>
        ) : rows ? (
          <Chart rows={rows} unit={pointInfo?.unit ?? ""} label={pointId} long={range === "30d"} />
        ) : (
          <p aria-busy="true">{t("loading")}</p>
        )}
      </section>
    </>
  );
}
