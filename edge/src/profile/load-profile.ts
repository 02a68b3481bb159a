import { readFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { naturesDir, profilesDir } from "@steinmetz/firmware-config";
import { parse } from "yaml";
import { type Problem, validate } from "../config/validate.js";
import { EdgeError } from "../errors.js";
import { type Nature, NatureSchema, POINT_TYPE_REGISTERS, type Profile, ProfileSchema } from "./profile-schema.js";

/** Where profiles and natures are read from (the firmware-config package by default). */
export interface ProfileDirs {
  profiles: string;
  natures: string;
}

const defaultDirs: ProfileDirs = { profiles: profilesDir, natures: naturesDir };

/** A profile together with the nature its points come from. */
export interface LoadedProfile {
  profile: Profile;
  nature: Nature;
  /** The file it was read from. */
  file: string;
}

/**
 * Reads and fully checks one profile, referenced as `<class>/<id>` (e.g. `inverter/sunspec-model103-tcp`):
 * the schema, that id and class match the file's place, that every point exists in the class's nature,
 * and that each point and its scale-factor register lie inside one block (read together).
 * Throws `EDGE_ERR_PROFILE_INVALID` listing every problem with its path.
 */
export function loadProfile(ref: string, dirs: ProfileDirs = defaultDirs): LoadedProfile {
  const file = join(dirs.profiles, `${ref}.yaml`);
  const fail = (problems: Problem[]) =>
    new EdgeError(
      "EDGE_ERR_PROFILE_INVALID",
      `profile ${ref} is invalid:\n${problems.map((p) => `  ${file}: ${p.path}: ${p.message}`).join("\n")}`,
    );
  const data = readYaml(file, fail);
  const schemaProblems = validate(ProfileSchema, data);
  if (schemaProblems.length > 0) throw fail(schemaProblems);
  const profile = data as Profile;

  const problems: Problem[] = [];
  if (profile.id !== basename(ref))
    problems.push({ path: "/id", message: `must equal the file name "${basename(ref)}"` });
  if (profile.class !== dirname(ref)) {
    problems.push({ path: "/class", message: `must equal the folder name "${dirname(ref)}"` });
  }
  const nature = loadNature(profile.class, dirs, fail);
  const seen = new Set<string>();
  profile.points.forEach((point, i) => {
    const path = `/points/${i}`;
    if (seen.has(point.id)) problems.push({ path: `${path}/id`, message: `duplicate point "${point.id}"` });
    seen.add(point.id);
    if (!(point.id in nature.points)) {
      problems.push({ path: `${path}/id`, message: `"${point.id}" is not a point of nature "${profile.class}"` });
    }
    const block = profile.blocks.find(
      (b) => point.address >= b.address && point.address + POINT_TYPE_REGISTERS[point.type] <= b.address + b.count,
    );
    if (!block) problems.push({ path: `${path}/address`, message: "lies outside every block" });
    const sf = point.scale?.register;
    if (block && sf !== undefined && (sf < block.address || sf >= block.address + block.count)) {
      problems.push({ path: `${path}/scale/register`, message: "must lie in the same block as the point" });
    }
  });
  if (problems.length > 0) throw fail(problems);
  return { profile, nature, file };
}

function loadNature(cls: string, dirs: ProfileDirs, fail: (p: Problem[]) => EdgeError): Nature {
  const file = join(dirs.natures, `${cls}.yaml`);
  const data = readYaml(file, (problems) =>
    fail(problems.map((p) => ({ path: "/class", message: `nature ${file}: ${p.message}` }))),
  );
  const problems = validate(NatureSchema, data);
  if (problems.length > 0)
    throw fail(problems.map((p) => ({ path: "/class", message: `nature ${file}${p.path}: ${p.message}` })));
  return data as Nature;
}

function readYaml(file: string, fail: (p: Problem[]) => EdgeError): unknown {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw fail([{ path: "/", message: `cannot read file (${(err as NodeJS.ErrnoException).code ?? String(err)})` }]);
  }
  try {
    return parse(text);
  } catch (err) {
    throw fail([{ path: "/", message: `not valid YAML: ${(err as Error).message}` }]);
  }
}
