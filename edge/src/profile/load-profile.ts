import { readFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import type { TSchema } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { naturesDir, profilesDir } from "@steinmetz/firmware-config";
import { parse } from "yaml";
import { NUMERIC_TYPES } from "../acquisition/decode.js";
import { type Problem, validate } from "../config/validate.js";
import { EdgeError } from "../errors.js";
import { type MqttProfile, MqttProfileSchema } from "./mqtt-profile-schema.js";
import { type Nature, NatureSchema, type Profile, ProfileSchema, pointSpan } from "./profile-schema.js";

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

/** An MQTT profile together with its nature. */
export interface LoadedMqttProfile {
  profile: MqttProfile;
  nature: Nature;
  file: string;
}

/**
 * Reads and fully checks one Modbus profile, referenced as `<class>/<id>` (e.g.
 * `inverter/sunspec-model103-tcp`): the schema, that id and class match the file's place, that
 * every point exists in the class's nature, and that each point and its scale-factor register fit
 * in one read. Throws `EDGE_ERR_PROFILE_INVALID` listing every problem with its path.
 */
export function loadProfile(ref: string, dirs: ProfileDirs = defaultDirs): LoadedProfile {
  return readProfile<Profile>(ref, ProfileSchema, dirs, (profile, problems, nature) => {
    if (profile.points.length === 0 && !profile.sunspec) {
      problems.push({ path: "/points", message: "must list points (or use sunspec discovery)" });
    }
    for (const [id, write] of Object.entries(profile.sunspec?.write ?? {})) {
      const path = `/sunspec/write/${id}`;
      if (!(id in nature.points))
        problems.push({ path, message: `"${id}" is not a point of nature "${profile.class}"` });
      if (write.min !== undefined && write.max !== undefined && write.min > write.max) {
        problems.push({ path: `${path}/min`, message: "must not be greater than max" });
      }
    }
    profile.points.forEach((point, i) => {
      const write = point.write;
      if (write) {
        const path = `/points/${i}/write`;
        if (point.function === "input") problems.push({ path, message: "input registers cannot be written" });
        if (write.function === "single" && NUMERIC_TYPES[point.type] > 1) {
          problems.push({
            path: `${path}/function`,
            message: `function 06 writes one register; ${point.type} needs "multiple"`,
          });
        }
        if (write.min !== undefined && write.max !== undefined && write.min > write.max) {
          problems.push({ path: `${path}/min`, message: "must not be greater than max" });
        }
      }
      const span = pointSpan(point);
      if (span.count > profile.defaults.maxRegistersPerRead) {
        problems.push({
          path: `/points/${i}/scale/register`,
          message: `value and scale factor span ${span.count} registers; they must fit in one read of ${profile.defaults.maxRegistersPerRead}`,
        });
      }
    });
  });
}

/**
 * Reads and fully checks one MQTT profile (`protocol: mqtt`): as `loadProfile`, and every
 * `{variable}` its topics, paths and identity use must be declared in `vars`.
 */
export function loadMqttProfile(ref: string, dirs: ProfileDirs = defaultDirs): LoadedMqttProfile {
  return readProfile<MqttProfile>(ref, MqttProfileSchema, dirs, (profile, problems) => {
    profile.points.forEach((point, i) => {
      for (const [field, text] of [
        ["topic", point.topic],
        ["path", point.path ?? ""],
      ] as const) {
        for (const [, name] of text.matchAll(/\{([a-zA-Z0-9_]+)\}/g)) {
          if (name && !profile.vars.includes(name)) {
            problems.push({ path: `/points/${i}/${field}`, message: `uses {${name}}, which is not declared in vars` });
          }
        }
      }
    });
    for (const [field, text] of Object.entries(profile.identity ?? {})) {
      for (const [, name] of text.matchAll(/\{([a-zA-Z0-9_]+)\}/g)) {
        if (name && !profile.vars.includes(name)) {
          problems.push({ path: `/identity/${field}`, message: `uses {${name}}, which is not declared in vars` });
        }
      }
    }
  });
}

/** The checks every profile gets, then `extra` ones; throws with all problems found. */
function readProfile<P extends { id: string; class: string; points: { id: string }[] }>(
  ref: string,
  schema: TSchema,
  dirs: ProfileDirs,
  extra: (profile: P, problems: Problem[], nature: Nature) => void,
): { profile: P; nature: Nature; file: string } {
  const file = join(dirs.profiles, `${ref}.yaml`);
  const fail = (problems: Problem[]) =>
    new EdgeError(
      "EDGE_ERR_PROFILE_INVALID",
      `profile ${ref} is invalid:\n${problems.map((p) => `  ${file}: ${p.path}: ${p.message}`).join("\n")}`,
    );
  const data = readYaml(file, fail);
  const protocol = (data as { protocol?: unknown } | null)?.protocol;
  if ((protocol === "mqtt") !== (schema === MqttProfileSchema)) {
    throw fail([
      {
        path: "/protocol",
        message:
          protocol === "mqtt"
            ? "an MQTT profile: use it on an mqtt connection"
            : "a Modbus profile: use it on a Modbus connection",
      },
    ]);
  }
  const profile = Value.Default(schema, data) as P;
  const schemaProblems = validate(schema, profile);
  if (schemaProblems.length > 0) throw fail(schemaProblems);

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
  });
  extra(profile, problems, nature);
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
