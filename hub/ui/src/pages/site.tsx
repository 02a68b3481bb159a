/**
 * A site's page beside its record (loaded on demand): its devices with serial number, link and
 * fault state, its open tickets and projects, the power of its devices (today live, a day, a week,
 * a month or a year; drag across the chart to zoom: the hub downsamples every range to at most
 * 800 points) and its days from the warehouse (energy, specific yield, self-consumption,
 * availability).
 */
import { TimeChart } from "@steinmetz/ui-kit/chart.js";
import { ErrorNotice } from "@steinmetz/ui-kit/form.js";
import { formatDate, formatDateTime, formatNumber } from "@steinmetz/ui-kit/format.js";
import { TableHead } from "@steinmetz/ui-kit/table.js";
import { useEffect, useMemo, useState } from "preact/hooks";
import { get } from "../api.js";
import { describeError } from "../errors.js";
import { lang, t } from "../i18n.js";
import type { Row } from "../meta.js";
import { recordHref } from "../router.js";

interface Device {
  id: string;
  kind: string;
  manufacturer: string | null;
  model: string | null;
  serialNumber: string | null;
  warrantyEnd: string | null;
  edgeId: string | null;
  lastReadingAt: string | null;
  openTickets: number;
}

interface Power {
  t: number[];
  bucketS: number;
  series: {
    deviceId: string;
    kind: string;
    serialNumber: string | null;
    point: string;
    unit: string;
    avg: (number | null)[];
    min: (number | null)[];
    max: (number | null)[];
  }[];
}

interface Day {
  day: string;
  production_kwh: number | null;
  export_kwh: number | null;
  import_kwh: number | null;
  specific_yield_kwh_per_kwp: number | null;
  self_consumption_rate: number | null;
  autarky_rate: number | null;
  availability: number | null;
}

type RangeName = "today" | "day" | "week" | "month" | "year";
const COLORS = ["#b86e00", "#0b57d0", "#0b6b34", "#a8201a", "#6b3fa0", "#4d5866"];
const DAY_MS = 86_400_000;

/** The range's bounds: local days in the browser's time zone. */
function bounds(range: RangeName, day: string): { from: Date; to: Date } {
  const start = new Date(`${day}T00:00:00`);
  if (range === "today") {
    const today = new Date();
    today.setHours(0, 0, 0, 0);
    return { from: today, to: new Date(today.getTime() + DAY_MS) };
  }
  const days = { day: 1, week: 7, month: 31, year: 366 }[range];
  const to = new Date(start.getTime() + DAY_MS);
  return { from: new Date(to.getTime() - days * DAY_MS), to };
}

const isoDay = (d: Date) =>
  `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;

function linkState(d: Device): { text: string; state: "online" | "stale" | "unlinked" } {
  if (!d.edgeId) return { text: t("notLinked"), state: "unlinked" };
  if (!d.lastReadingAt) return { text: t("noReadings"), state: "stale" };
  const age = Date.now() - new Date(d.lastReadingAt).getTime();
  return age < 10 * 60_000
    ? { text: t("online"), state: "online" }
    : { text: t("lastReading", { at: formatDateTime(lang.get(), d.lastReadingAt) }), state: "stale" };
}

export function SitePanel({ siteId }: { siteId: string }) {
  const [devices, setDevices] = useState<Device[] | null>(null);
  const [tickets, setTickets] = useState<Row[]>([]);
  const [projects, setProjects] = useState<Row[]>([]);
  const [range, setRange] = useState<RangeName>("today");
  const [day, setDay] = useState(isoDay(new Date()));
  const [zoom, setZoom] = useState<{ from: Date; to: Date } | null>(null);
  const [power, setPower] = useState<Power | null>(null);
  const [days, setDays] = useState<Day[]>([]);
  const [error, setError] = useState<unknown>(null);
  const l = lang.get();

  useEffect(() => {
    const abort = new AbortController();
    Promise.all([
      get<Device[]>(`/sites/${siteId}/devices`, abort.signal),
      get<{ items: Row[] }>(`/tickets?siteId=${siteId}&status=new,assigned,in_progress,waiting&limit=20`, abort.signal),
      get<{ items: Row[] }>(`/projects?siteId=${siteId}&limit=20`, abort.signal),
    ])
      .then(([d, tk, pr]) => {
        setDevices(d);
        setTickets(tk.items);
        setProjects(pr.items);
      })
      .catch((err) => abort.signal.aborted || setError(err));
    return () => abort.abort();
  }, [siteId]);

  const span = zoom ?? bounds(range, day);
  const key = `${span.from.toISOString()}|${span.to.toISOString()}`;
  useEffect(() => {
    const abort = new AbortController();
    const load = () => {
      const q = new URLSearchParams({ from: span.from.toISOString(), to: span.to.toISOString(), maxPoints: "800" });
      const dq = new URLSearchParams({ from: isoDay(span.from), to: isoDay(new Date(span.to.getTime() - 1)) });
      Promise.all([
        get<Power>(`/sites/${siteId}/power?${q}`, abort.signal),
        get<Day[]>(`/sites/${siteId}/days?${dq}`, abort.signal),
      ])
        .then(([p, d]) => {
          setPower(p);
          setDays(d);
          setError(null);
        })
        .catch((err) => abort.signal.aborted || setError(err));
    };
    load();
    // today is live: drawn again every 30 s
    const timer = range === "today" && !zoom ? setInterval(load, 30_000) : undefined;
    return () => {
      abort.abort();
      clearInterval(timer);
    };
  }, [siteId, key]);

  const chart = useMemo(() => {
    if (!power) return null;
    const lines = power.series.map((s, i) => ({
      // a device may have several power points (phases, the battery's own): named with the point
      label: `${t(`kind_${s.kind}` as "kind_inverter")} ${s.serialNumber ?? ""} · ${s.point}`,
      stroke: COLORS[i % COLORS.length] as string,
    }));
    return { data: [power.t, ...power.series.map((s) => s.avg)] as [number[], ...(number | null)[][]], lines };
  }, [power]);
  const dayChart = useMemo(() => {
    if (days.length < 2) return null;
    return {
      data: [days.map((d) => new Date(`${d.day}T12:00:00Z`).getTime() / 1000), days.map((d) => d.production_kwh)] as [
        number[],
        (number | null)[],
      ],
      lines: [{ label: t("production"), stroke: "#b86e00", bars: true }],
    };
  }, [days]);
  const sum = (k: keyof Day) => days.reduce((s, d) => s + (Number(d[k]) || 0), 0);
  const mean = (k: keyof Day) => {
    const v = days.map((d) => d[k]).filter((x): x is number => typeof x === "number");
    return v.length ? v.reduce((a, b) => a + b, 0) / v.length : null;
  };
  const pct = (v: number | null) => (v === null ? "–" : `${formatNumber(l, v * 100, 1)} %`);

  return (
    <section class="site-panel" aria-labelledby="site-telemetry">
      <h2 id="site-telemetry">{t("telemetry")}</h2>
      {error ? <ErrorNotice {...describeError(error)} othersLabel={t("otherProblems")} /> : null}
      <fieldset class="ranges">
        <legend class="visually-hidden">{t("range")}</legend>
        {(["today", "day", "week", "month", "year"] as const).map((r) => (
          <button
            key={r}
            type="button"
            class={range === r && !zoom ? "" : "secondary"}
            aria-pressed={range === r && !zoom}
            onClick={() => {
              setZoom(null);
              setRange(r);
            }}
            data-testid={`range-${r}`}
          >
            {t(`range_${r}` as "range_today")}
          </button>
        ))}
        {range !== "today" && (
          <input type="date" aria-label={t("rangeEnd")} value={day} onChange={(e) => setDay(e.currentTarget.value)} />
        )}
        {zoom && (
          <button type="button" class="secondary" onClick={() => setZoom(null)} data-testid="zoom-reset">
            {t("zoomReset")}
          </button>
        )}
      </fieldset>
      {chart && chart.lines.length > 0 ? (
        <figure>
          <figcaption>
            {t("power")} · {formatDateTime(l, span.from)} – {formatDateTime(l, span.to)} ·{" "}
            {t("bucket", { s: power?.bucketS ?? 0 })}
          </figcaption>
          <TimeChart
            data={chart.data}
            lines={chart.lines}
            unit="W"
            lang={l}
            dates={span.to.getTime() - span.from.getTime() > 2 * DAY_MS}
            onZoom={(from, to) => setZoom({ from: new Date(from * 1000), to: new Date(to * 1000) })}
            testId="power-chart"
          />
        </figure>
      ) : (
        power && <p data-testid="no-power">{t("noTelemetry")}</p>
      )}
      {days.length > 0 && (
        <>
          <dl class="kpis" data-testid="kpis">
            <div>
              <dt>{t("production")}</dt>
              <dd data-testid="kpi-production">{formatNumber(l, sum("production_kwh"), 1)} kWh</dd>
            </div>
            <div>
              <dt>{t("specificYield")}</dt>
              <dd>{formatNumber(l, sum("specific_yield_kwh_per_kwp"), 2)} kWh/kWp</dd>
            </div>
            <div>
              <dt>{t("selfConsumption")}</dt>
              <dd>{pct(mean("self_consumption_rate"))}</dd>
            </div>
            <div>
              <dt>{t("availability")}</dt>
              <dd>{pct(mean("availability"))}</dd>
            </div>
          </dl>
          {dayChart && (
            <figure>
              <figcaption>{t("energyPerDay")}</figcaption>
              <TimeChart data={dayChart.data} lines={dayChart.lines} unit="kWh" lang={l} dates testId="day-chart" />
            </figure>
          )}
        </>
      )}
      <h3>{t("devices")}</h3>
      {devices && (
        <div class="table-wrap">
          <table data-testid="site-devices">
            <TableHead columns={[t("kind"), t("serialNumber"), t("model"), t("link"), t("faults"), t("warranty")]} />
            <tbody>
              {devices.map((d) => {
                const link = linkState(d);
                return (
                  <tr key={d.id} data-serial={d.serialNumber}>
                    <td>{t(`kind_${d.kind}` as "kind_inverter")}</td>
                    <td>
                      <a href={recordHref("devices", d.id)}>{d.serialNumber ?? "–"}</a>
                    </td>
                    <td>{[d.manufacturer, d.model].filter(Boolean).join(" ") || "–"}</td>
                    <td data-state={link.state}>{link.text}</td>
                    <td data-testid="open-tickets">
                      {d.openTickets ? t("openTickets", { n: d.openTickets }) : t("noFault")}
                    </td>
                    <td>{d.warrantyEnd ? formatDate(l, d.warrantyEnd) : "–"}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      <div class="side-lists">
        <div>
          <h3>{t("openTicketsTitle")}</h3>
          <ul data-testid="site-tickets">
            {tickets.length === 0 && <li>{t("noRows")}</li>}
            {tickets.map((tk) => (
              <li key={tk.id}>
                <a href={recordHref("tickets", tk.id)}>{String(tk.title)}</a>
              </li>
            ))}
          </ul>
        </div>
        <div>
          <h3>{t("projectsTitle")}</h3>
          <ul data-testid="site-projects">
            {projects.length === 0 && <li>{t("noRows")}</li>}
            {projects.map((p) => (
              <li key={p.id}>
                <a href={recordHref("projects", p.id)}>{String(p.title ?? p.number ?? p.id)}</a>
              </li>
            ))}
          </ul>
        </div>
      </div>
    </section>
  );
}
