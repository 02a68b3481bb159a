import { readFileSync } from "node:fs";
import { Value } from "@sinclair/typebox/value";
import { parse } from "yaml";
import type { BufferSettings } from "../buffer/reading-buffer.js";
import { ConfigInvalidError, EdgeError } from "../errors.js";
import {
  type LoadedMqttProfile,
  type LoadedProfile,
  loadMqttProfile,
  loadProfile,
  type ProfileDirs,
} from "../profile/load-profile.js";
import { parseByteSize } from "./byte-size.js";
import { type BufferConfig, BufferSchema, type SiteConfig, SiteConfigSchema } from "./site-schema.js";
import { formatProblems, type Problem, validate } from "./validate.js";

/** A site configuration with the profile of every device loaded and checked. */
export interface LoadedSite {
  config: SiteConfig;
  /** Modbus profiles by reference (`<class>/<id>`). */
  profiles: Map<string, LoadedProfile>;
  /** MQTT profiles by reference, for devices on MQTT connections. */
  mqttProfiles: Map<string, LoadedMqttProfile>;
  /** The reading buffer's budget and retention (the `buffer:` section, defaults applied, sizes in bytes). */
  buffer: BufferSettings;
}

/**
 * Reads a site configuration file and checks all of it before anything connects: the schema,
 * that ids are unique, that each device names an existing connection, and each device's profile.
 * Throws `EDGE_ERR_CONFIG_INVALID` naming the path of every problem.
 */
export function loadSiteFile(file: string, dirs?: ProfileDirs): LoadedSite {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new EdgeError("EDGE_ERR_CONFIG_READ", `cannot read site configuration ${file}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  let data: unknown;
  try {
    data = parse(text);
  } catch (err) {
    throw new EdgeError("EDGE_ERR_CONFIG_INVALID", `${file}: /: not valid YAML: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return checkSite(file, data, dirs);
}

/** Checks an already parsed site configuration (see `loadSiteFile`); `source` names it in messages. */
export function checkSite(source: string, data: unknown, dirs?: ProfileDirs): LoadedSite {
  const withDefaults = Value.Default(SiteConfigSchema, structuredClone(data));
  const problems = validate(SiteConfigSchema, withDefaults);
  if (problems.length > 0) throw invalid(source, problems);
  const config = withDefaults as SiteConfig;

  uniqueIds(config.connections, "/connections", problems);
  config.connections.forEach((c, i) => {
    const path = `/connections/${i}`;
    if (c.type === "mqtt") {
      if (!c.url && !c.embedded) problems.push({ path, message: 'an mqtt connection needs "url" or "embedded: true"' });
      if (c.embedded && !config.mqttBroker?.enabled) {
        problems.push({ path: `${path}/embedded`, message: "the embedded broker is not enabled (mqttBroker.enabled)" });
      }
      return;
    }
    const needs = c.type === "rtu" ? (["path"] as const) : (["host", "port"] as const);
    for (const field of needs) {
      if (c[field] === undefined) problems.push({ path, message: `a ${c.type} connection needs "${field}"` });
    }
  });
  uniqueIds(config.devices, "/devices", problems);
  const profiles = new Map<string, LoadedProfile>();
  const mqttProfiles = new Map<string, LoadedMqttProfile>();
  config.devices.forEach((device, i) => {
    const connection = config.connections.find((c) => c.id === device.connection);
    if (!connection) {
      problems.push({ path: `/devices/${i}/connection`, message: `no connection with id "${device.connection}"` });
      return;
    }
    try {
      if (connection.type !== "mqtt") {
        if (!profiles.has(device.profile)) profiles.set(device.profile, loadProfile(device.profile, dirs));
        return;
      }
      const loaded = mqttProfiles.get(device.profile) ?? loadMqttProfile(device.profile, dirs);
      mqttProfiles.set(device.profile, loaded);
      for (const name of loaded.profile.vars) {
        if (device.vars?.[name] === undefined) {
          problems.push({ path: `/devices/${i}/vars`, message: `profile ${device.profile} needs vars.${name}` });
        }
      }
    } catch (err) {
      problems.push({ path: `/devices/${i}/profile`, message: (err as Error).message });
    }
  });
  const buffer = bufferSettings(config.buffer ?? (Value.Default(BufferSchema, {}) as BufferConfig), problems);
  if (problems.length > 0) throw invalid(source, problems);
  return { config, profiles, mqttProfiles, buffer };
}

function bufferSettings(section: BufferConfig, problems: Problem[]): BufferSettings {
  const bytes = (key: "maxBytes" | "minFreeBytes"): number => {
    const value = parseByteSize(section[key]);
    if (value === null) {
      problems.push({
        path: `/buffer/${key}`,
        message: 'must be a number of bytes or a size such as "2GiB", "500MB"',
      });
    }
    return value ?? 0;
  };
  const maxBytes = bytes("maxBytes");
  const minFreeBytes = bytes("minFreeBytes");
  if (maxBytes === 0 && problems.every((p) => p.path !== "/buffer/maxBytes")) {
    problems.push({ path: "/buffer/maxBytes", message: "must be more than 0" });
  }
  return { ...section, maxBytes, minFreeBytes };
}

function uniqueIds(items: readonly { id: string }[], path: string, problems: Problem[]): Set<string> {
  const ids = new Set<string>();
  items.forEach((item, i) => {
    if (ids.has(item.id)) problems.push({ path: `${path}/${i}/id`, message: `duplicate id "${item.id}"` });
    ids.add(item.id);
  });
  return ids;
}

function invalid(source: string, problems: readonly Problem[]): ConfigInvalidError {
  return new ConfigInvalidError(problems, `invalid site configuration:\n${formatProblems(source, problems)}`);
}
