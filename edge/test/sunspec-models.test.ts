// Checks the SunSpec model table (edge/src/sunspec/models.ts) against the official SunSpec JSON model
// definitions, used here as a test oracle only.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { SUNSPEC_MODELS, type SunSpecGroup, type SunSpecPoint } from "../src/sunspec/models.js";

/** The test object tap hands to a subtest callback. */
type TapTest = Parameters<Parameters<typeof t.test>[0]>[0];

const ORACLE_DIR = join(import.meta.dirname, "../../../shared/sunspec-models/json");

const LISTED_MODELS = [
  1, 101, 102, 103, 111, 112, 113, 120, 121, 123, 124, 160, 201, 202, 203, 204, 211, 212, 213, 214, 701, 702, 704, 713,
];

interface JsonPoint {
  name: string;
  type: string;
  size: number;
  sf?: string | number;
  units?: string;
  value?: unknown;
}

interface JsonGroup {
  name: string;
  count?: string | number;
  points: JsonPoint[];
  groups?: JsonGroup[];
}

interface JsonModel {
  id: number;
  group: JsonGroup;
}

function loadJsonModel(id: number): JsonModel {
  const parsed: unknown = JSON.parse(readFileSync(join(ORACLE_DIR, `model_${id}.json`), "utf8"));
  if (typeof parsed !== "object" || parsed === null || !("group" in parsed) || !("id" in parsed)) {
    throw new Error(`model_${id}.json: not a SunSpec model definition`);
  }
  return parsed as JsonModel;
}

/** The facts of one point the table states (everything but the canonical point id). */
interface Row {
  name: string;
  offset: number;
  type: string;
  size: number;
  sf?: string;
  units?: string;
}

function row(name: string, offset: number, type: string, size: number, sf?: string, units?: string): Row {
  const r: Row = { name, offset, type, size };
  if (sf !== undefined) r.sf = sf;
  if (units !== undefined) r.units = units;
  return r;
}

/** Rows of a JSON group, offsets derived from the order and sizes of its points. */
function jsonRows(group: JsonGroup): Row[] {
  let offset = 0;
  return group.points.map((jp) => {
    const r = row(jp.name, offset, jp.type, jp.size, jp.sf === undefined ? undefined : String(jp.sf), jp.units);
    offset += jp.size;
    return r;
  });
}

function ourRows(points: SunSpecPoint[]): Row[] {
  return points.map((pt) => row(pt.name, pt.offset, pt.type, pt.size, pt.sf, pt.units));
}

/** Registers of a JSON group that do not depend on a repetition count: its points and the groups that occur once. */
function jsonFixedSize(group: JsonGroup): number {
  let size = group.points.reduce((sum, jp) => sum + jp.size, 0);
  for (const sub of group.groups ?? []) {
    if (sub.count === undefined) size += jsonFixedSize(sub);
    else if (typeof sub.count === "number" && sub.count > 0) size += sub.count * jsonFixedSize(sub);
  }
  return size;
}

function ourFixedSize(group: SunSpecGroup): number {
  let size = group.points.reduce((sum, pt) => sum + pt.size, 0);
  for (const sub of group.groups ?? []) {
    if (/^[1-9]\d*$/.test(sub.count)) size += Number(sub.count) * ourFixedSize(sub);
  }
  return size;
}

function allPoints(group: SunSpecGroup): SunSpecPoint[] {
  return [...group.points, ...(group.groups ?? []).flatMap(allPoints)];
}

function compareGroup(t: TapTest, id: number, path: string, ours: SunSpecGroup, json: JsonGroup): void {
  const where = `model ${id} ${path}`;
  t.equal(ours.name, json.name, `${where} group name`);
  t.same(
    ours.points.map((pt) => pt.name),
    json.points.map((jp) => jp.name),
    `${where} point names in order`,
  );
  const mine = ourRows(ours.points);
  const theirs = jsonRows(json);
  if (!t.same(mine, theirs, `${where} points (offset, type, size, sf, units)`)) {
    // Point out the first facts that differ, e.g. "model 103 W offset".
    for (const [i, expected] of theirs.entries()) {
      const actual = mine[i];
      if (actual === undefined) break;
      for (const key of ["name", "offset", "type", "size", "sf", "units"] as const) {
        if (actual[key] !== expected[key]) t.equal(actual[key], expected[key], `model ${id} ${expected.name} ${key}`);
      }
    }
  }

  const ourGroups = ours.groups ?? [];
  const jsonGroups = json.groups ?? [];
  t.same(
    ourGroups.map((g) => g.name),
    jsonGroups.map((g) => g.name),
    `${where} nested group names in order`,
  );
  for (const [i, jg] of jsonGroups.entries()) {
    const og = ourGroups[i];
    if (og === undefined) continue;
    // A group without count in the definition occurs once; the table states that as "1".
    t.equal(og.count, String(jg.count ?? 1), `model ${id} ${path}/${jg.name} count`);
    compareGroup(t, id, `${path}/${jg.name}`, og, jg);
  }
}

t.test("every listed model is in the table, under its own id", async (t) => {
  const missing = LISTED_MODELS.filter((id) => !SUNSPEC_MODELS.has(id));
  t.same(missing, [], "listed models missing from SUNSPEC_MODELS");
  const misfiled = [...SUNSPEC_MODELS].filter(([key, m]) => key !== m.id).map(([key]) => key);
  t.same(misfiled, [], "map keys that differ from the model's id");
});

for (const [id, model] of SUNSPEC_MODELS) {
  t.test(`model ${id} (${model.name}) matches the SunSpec definition`, async (t) => {
    const json = loadJsonModel(id);
    t.equal(json.id, id, `model ${id} id in the definition`);
    t.equal(model.name, json.group.name, `model ${id} name`);
    compareGroup(t, id, json.group.name, model.group, json.group);

    // Length: 7xx definitions state L as a value; older ones leave it to the fixed point sizes.
    const fixedLength = jsonFixedSize(json.group) - 2;
    const stated = json.group.points.find((jp) => jp.name === "L")?.value;
    if (typeof stated === "number")
      t.equal(stated, fixedLength, `model ${id} definition's L equals its fixed size - 2`);
    t.equal(model.length, typeof stated === "number" ? stated : fixedLength, `model ${id} length`);
    t.equal(ourFixedSize(model.group) - 2, model.length, `model ${id} length equals the table's fixed size - 2`);
  });

  t.test(`model ${id} scale factors and canonical points are consistent`, async (t) => {
    const points = allPoints(model.group);
    const byName = new Map(points.map((pt) => [pt.name, pt]));
    const unresolved = points
      .filter((pt) => pt.sf !== undefined && !byName.has(pt.sf))
      .map((pt) => `${pt.name}→${pt.sf}`);
    t.same(unresolved, [], `model ${id} sf links that name no point of the model`);
    const notSunssf = points
      .filter((pt) => pt.sf !== undefined && byName.get(pt.sf)?.type !== "sunssf")
      .map((pt) => `${pt.name}→${pt.sf}`);
    t.same(notSunssf, [], `model ${id} sf links that name no sunssf point`);

    const ids = points.flatMap((pt) => (pt.point === undefined ? [] : [pt.point]));
    t.same(
      ids.filter((pid) => !/^[a-z][a-z0-9]*(_[a-z0-9]+)*$/.test(pid)),
      [],
      `model ${id} canonical point ids that are not snake_case`,
    );
    t.same(
      ids.filter((pid, i) => ids.indexOf(pid) !== i),
      [],
      `model ${id} canonical point ids mapped twice`,
    );
  });
}
