/**
 * A time chart on uPlot, as both apps draw them: lines (optionally with a min–max band), the time
 * axis and values in the user's language, the legend following the cursor, resizing with its box,
 * and a drag across it to zoom (`onZoom` gets the chosen range in Unix seconds).
 */
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import { type Lang, localeOf } from "./format.js";

export interface ChartLine {
  label: string;
  stroke: string;
  /** Index of the series (in `data`) of this line's minimum and maximum: drawn as a band. */
  band?: [number, number];
  /** A thin line (a band's edge). */
  thin?: boolean;
  /** Bars instead of a line (energy per day). */
  bars?: boolean;
}

export interface TimeChartProps {
  /** uPlot's columns: times in Unix seconds, then one array per line. */
  data: uPlot.AlignedData;
  lines: ChartLine[];
  unit: string;
  lang: Lang;
  /** Show dates (long ranges) rather than times on the axis. */
  dates?: boolean;
  onZoom?: (from: number, to: number) => void;
  testId?: string;
}

export function TimeChart({ data, lines, unit, lang, dates, onZoom, testId }: TimeChartProps) {
  const host = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const width = () => Math.max(280, el.clientWidth);
    const height = () => (el.clientWidth < 600 ? 240 : 340);
    const locale = localeOf(lang);
    const number = new Intl.NumberFormat(locale, { maximumFractionDigits: 2 });
    const tick = new Intl.DateTimeFormat(
      locale,
      dates
        ? { day: "2-digit", month: "2-digit", timeZone: "Europe/Berlin" }
        : { hour: "2-digit", minute: "2-digit", timeZone: "Europe/Berlin" },
    );
    const full = new Intl.DateTimeFormat(locale, { dateStyle: "short", timeStyle: "short", timeZone: "Europe/Berlin" });
    const fmt = (_u: uPlot, v: number | null) => (v === null ? "–" : `${number.format(v)} ${unit}`);
    const bars = uPlot.paths.bars?.({ size: [0.8, 40] });
    const plot = new uPlot(
      {
        width: width(),
        height: height(),
        series: [
          { label: "", value: (_u, v) => (v === null ? "–" : full.format(v * 1000)) },
          ...lines.map((l) => ({
            label: l.label,
            stroke: l.stroke,
            width: l.thin ? 1 : 2,
            value: fmt,
            ...(l.bars && bars ? { paths: bars, fill: l.stroke } : {}),
          })),
        ],
        bands: lines.flatMap((l) =>
          l.band ? [{ series: [l.band[1], l.band[0]] as [number, number], fill: `${l.stroke}22` }] : [],
        ),
        axes: [
          { values: (_u, splits) => splits.map((v) => tick.format(v * 1000)) },
          { label: unit, size: 64, values: (_u, splits) => splits.map((v) => number.format(v)) },
        ],
        // bars stand on zero
        scales: {
          x: { time: true },
          ...(lines.some((l) => l.bars) ? { y: { range: (_u, min, max) => [Math.min(0, min), max] } } : {}),
        },
        legend: { live: true },
        cursor: { drag: { x: true, y: false, setScale: false } },
        hooks: {
          setSelect: [
            (u) => {
              if (!onZoom || u.select.width < 5) return;
              const from = u.posToVal(u.select.left, "x");
              const to = u.posToVal(u.select.left + u.select.width, "x");
              u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
              onZoom(from, to);
            },
          ],
        },
      },
      data,
      el,
    );
    const observer = new ResizeObserver(() => plot.setSize({ width: width(), height: height() }));
    observer.observe(el);
    return () => {
      observer.disconnect();
      plot.destroy();
    };
  }, [data, lines, unit, lang, dates]);
  return <div class="chart" ref={host} data-testid={testId} />;
}
