import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { naturesDir } from "@steinmetz/firmware-config";
import { parse } from "yaml";
import type { Queryable } from "../db/queryable.js";

/** A canonical point as the warehouse aggregates it. */
export interface WarehousePoint {
  point: string;
  unit: string;
  kind: "counter" | "power" | "irradiance" | "gauge";
  description: string | null;
}

/**
 * Energy points that are levels, not lifetime counters (what a battery holds, what it is rated
 * for): they are not summed into energy.
 */
const ENERGY_LEVELS = new Set(["energy_capacity", "energy_available"]);

/**
 * The points of every nature (firmware-config/natures/*.yaml) with their units: `energy_*` in Wh
 * are counters (but for the levels above), points in W are power, in W/m² irradiance, the rest
 * gauges. A point two natures share must have one unit.
 */
export function naturePoints(dir = naturesDir): WarehousePoint[] {
  if (dir !== naturesDir) return readNaturePoints(dir);
  shipped ??= readNaturePoints(dir);
  return shipped;
}

/** The shipped natures' points, read once per process (not at every warehouse pass). */
let shipped: WarehousePoint[] | undefined;

function readNaturePoints(dir: string): WarehousePoint[] {
  const byPoint = new Map<string, WarehousePoint>();
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith(".yaml"))
    .sort()) {
    const nature = parse(readFileSync(join(dir, file), "utf8")) as {
      points: Record<string, { unit: string; description?: string }>;
    };
    for (const [point, spec] of Object.entries(nature.points)) {
      const unit = String(spec.unit ?? "");
      const kind =
        point.startsWith("energy_") && unit === "Wh" && !ENERGY_LEVELS.has(point)
          ? "counter"
          : unit === "W"
            ? "power"
            : unit === "W/m2"
              ? "irradiance"
              : "gauge";
      const known = byPoint.get(point);
      if (known && known.unit !== unit) {
        throw new Error(`natures: point ${point} has unit ${known.unit} and ${unit} (${file})`);
      }
      if (!known) byPoint.set(point, { point, unit, kind, description: spec.description ?? null });
    }
  }
  return [...byPoint.values()].sort((a, b) => a.point.localeCompare(b.point));
}

/** Brings `staging.points` in line with the natures, writing only what differs. */
export async function syncPoints(db: Queryable, points = naturePoints()): Promise<number> {
  const { rowCount } = await db.query(
    `INSERT INTO staging.points AS p (point, unit, kind, description)
     SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(point text, unit text, kind text, description text)
     ON CONFLICT (point) DO UPDATE SET unit = EXCLUDED.unit, kind = EXCLUDED.kind, description = EXCLUDED.description
     WHERE (p.unit, p.kind, p.description) IS DISTINCT FROM (EXCLUDED.unit, EXCLUDED.kind, EXCLUDED.description)`,
    [JSON.stringify(points)],
  );
  return rowCount ?? 0;
}
