import { readFileSync } from "node:fs";
import { Value } from "@sinclair/typebox/value";
import { parse } from "yaml";
import { EdgeError } from "../errors.js";
import {
  type LoadedMqttProfile,
  type LoadedProfile,
  loadMqttProfile,
  loadProfile,
  type ProfileDirs,
} from "../profile/load-profile.js";
import { type SiteConfig, SiteConfigSchema } from "./site-schema.js";
import { formatProblems, type Problem, validate } from "./validate.js";

/** A site configuration with the profile of every device loaded and checked. */
export interface LoadedSite {
  config: SiteConfig;
  /** Modbus profiles by reference (`<class>/<id>`). */
  profiles: Map<string, LoadedProfile>;
  /** MQTT profiles by reference, for devices on MQTT connections. */
  mqttProfiles: Map<string, LoadedMqttProfile>;
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
  if (problems.length > 0) throw invalid(source, problems);
  return { config, profiles, mqttProfiles };
}

function uniqueIds(items: readonly { id: string }[], path: string, problems: Problem[]): Set<string> {
  const ids = new Set<string>();
  items.forEach((item, i) => {
    if (ids.has(item.id)) problems.push({ path: `${path}/${i}/id`, message: `duplicate id "${item.id}"` });
    ids.add(item.id);
  });
  return ids;
}

function invalid(source: string, problems: readonly Problem[]): EdgeError {
  return new EdgeError("EDGE_ERR_CONFIG_INVALID", `invalid site configuration:\n${formatProblems(source, problems)}`);
}
