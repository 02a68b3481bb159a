/** The site's power flow as a picture: PV, grid, battery and house around a junction. */
import type { ComponentChildren } from "preact";
import { formatNumber, formatPower } from "../format.js";
import { t } from "../i18n.js";
import type { Flow } from "../types.js";

/** Below this many watts a branch counts as idle (no direction shown). */
const IDLE_W = 5;

const CENTER = { x: 180, y: 160 };
const R = 46;

interface NodeProps {
  id: "pv" | "grid" | "battery" | "house";
  x: number;
  y: number;
  label: string;
  watts: number | null;
  /** Text under the value (direction), null for none. */
  sub: string | null;
  /** +1: power flows from the node to the junction, -1: towards the node, 0: idle. */
  direction: number;
  extra?: ComponentChildren;
}

function Branch({ id, x, y, direction, watts }: NodeProps) {
  const absent = watts === null;
  // The line runs from the node's rim to the junction's rim, drawn in the direction of the flow.
  const dx = CENTER.x - x;
  const dy = CENTER.y - y;
  const len = Math.hypot(dx, dy);
  const ux = dx / len;
  const uy = dy / len;
  const a = { x: x + ux * (R + 10), y: y + uy * (R + 10) };
  const b = { x: CENTER.x - ux * 16, y: CENTER.y - uy * 16 };
  const [from, to] = direction < 0 ? [b, a] : [a, b];
  const cls = absent ? "branch absent" : direction === 0 ? "branch idle" : `branch flowing ${id}`;
  return (
    <line
      class={cls}
      x1={from.x}
      y1={from.y}
      x2={to.x}
      y2={to.y}
      marker-end={!absent && direction !== 0 ? "url(#flow-arrow)" : undefined}
      data-direction={direction}
    />
  );
}

function Node({ id, x, y, label, watts, sub, extra }: NodeProps) {
  const absent = watts === null;
  return (
    <g class={absent ? `node ${id} absent` : `node ${id}`}>
      <circle cx={x} cy={y} r={R} />
      <text x={x} y={y - 16} class="node-label">
        {label}
      </text>
      <text x={x} y={y + 6} class="node-value" data-testid={`flow-${id}`} data-value={watts ?? ""}>
        {absent ? "–" : formatPower(watts)}
      </text>
      <text x={x} y={y + 24} class="node-sub">
        {absent ? t("noDevice") : (sub ?? "")}
      </text>
      {extra}
    </g>
  );
}

function dir(watts: number | null, positiveIsInflow: boolean): number {
  if (watts === null || Math.abs(watts) < IDLE_W) return 0;
  return watts > 0 === positiveIsInflow ? 1 : -1;
}

/** The power-flow picture with every value carrying `data-testid="flow-…"` and its watts in `data-value`. */
export function PowerFlow({ flow }: { flow: Flow | null }) {
  const f: Flow = flow ?? { pvW: null, gridW: null, batteryW: null, socPct: null, houseW: null };
  const gridSub =
    f.gridW === null || Math.abs(f.gridW) < IDLE_W ? t("idle") : f.gridW > 0 ? t("gridImport") : t("gridExport");
  const batterySub =
    f.batteryW === null || Math.abs(f.batteryW) < IDLE_W
      ? t("idle")
      : f.batteryW > 0
        ? t("batteryDischarge")
        : t("batteryCharge");
  const nodes: NodeProps[] = [
    { id: "pv", x: 180, y: 52, label: t("pv"), watts: f.pvW, sub: null, direction: dir(f.pvW, true) },
    { id: "grid", x: 56, y: 160, label: t("grid"), watts: f.gridW, sub: gridSub, direction: dir(f.gridW, true) },
    { id: "house", x: 304, y: 160, label: t("house"), watts: f.houseW, sub: null, direction: dir(f.houseW, false) },
    {
      id: "battery",
      x: 180,
      y: 268,
      label: t("battery"),
      watts: f.batteryW,
      sub: batterySub,
      direction: dir(f.batteryW, true),
    },
  ];
  const battery = nodes[3] as NodeProps;
  battery.extra = (
    <text x={180} y={268 + R + 18} class="node-soc" data-testid="flow-soc" data-value={f.socPct ?? ""}>
      {f.socPct === null ? "" : `${t("soc")} ${formatNumber(f.socPct, 0)} %`}
    </text>
  );
  const summary = nodes
    .map((n) => `${n.label}: ${n.watts === null ? t("noDevice") : `${formatPower(n.watts)} ${n.sub ?? ""}`}`)
    .join(", ");
  return (
    <figure class="power-flow">
      <svg viewBox="0 0 360 340" role="img" aria-label={`${t("powerFlow")}: ${summary}`}>
        <defs>
          <marker id="flow-arrow" viewBox="0 0 10 10" refX="8" refY="5" markerWidth="5" markerHeight="5" orient="auto">
            <path d="M0,0 L10,5 L0,10 z" class="arrow-head" />
          </marker>
        </defs>
        {nodes.map((n) => (
          <Branch key={`b-${n.id}`} {...n} />
        ))}
        <circle cx={CENTER.x} cy={CENTER.y} r={8} class="junction" />
        {nodes.map((n) => (
          <Node key={n.id} {...n} />
        ))}
      </svg>
    </figure>
  );
}
