/**
 * Requests per poll cycle for every shipped profile: the planner's reads next to one request per
 * point (what a naive poller sends). SunSpec profiles are planned for a typical chain.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { profilesDir } from "@steinmetz/firmware-config";
import { MAX_GAP, planReads } from "../src/acquisition/request-plan.js";
import { loadProfile } from "../src/profile/load-profile.js";
import { type ProfilePoint, pointSpan } from "../src/profile/profile-schema.js";
import { pointsFromChain } from "../src/sunspec/points.js";

/** Typical chains a SunSpec profile meets: inverter 1 + 103 + 160 (2 MPPT), meter 1 + 203, battery 1 + 124. */
const TYPICAL_CHAIN: Record<string, { id: number; address: number; length: number }[]> = {
  inverter: [
    { id: 103, address: 40070, length: 50 },
    { id: 160, address: 40122, length: 48 },
  ],
  meter: [{ id: 203, address: 40070, length: 105 }],
  battery: [{ id: 124, address: 40070, length: 24 }],
};

/** One row per profile: planned requests vs one per point. */
export function benchRequestPlan(): { name: string; value: number; baseline: number; ratio: number }[] {
  const refs = readdirSync(profilesDir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith(".yaml"))
    .map((e) => relative(profilesDir, join(e.parentPath, e.name)).replace(/\.yaml$/, ""))
    .sort();
  const modbus = refs.filter(
    (ref) => !/^protocol:\s*mqtt\s*$/m.test(readFileSync(join(profilesDir, `${ref}.yaml`), "utf8")),
  );
  return modbus.map((ref) => {
    const { profile } = loadProfile(ref);
    const points: ProfilePoint[] = profile.sunspec
      ? [...pointsFromChain(TYPICAL_CHAIN[profile.class] ?? []), ...profile.points]
      : profile.points;
    const reads = planReads(
      points.map((p) => ({ key: p, fn: p.function ?? "holding", ...pointSpan(p) })),
      { maxRegisters: profile.defaults.maxRegistersPerRead, maxGap: MAX_GAP.tcp },
    );
    return {
      name: `requests per cycle, ${ref} (${points.length} points)`,
      value: reads.length,
      baseline: points.length,
      ratio: reads.length / points.length,
    };
  });
}
