import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sitesDir } from "@steinmetz/firmware-config";
import t from "tap";
import { checkSite, loadSiteFile } from "../src/config/load-site.js";
import { EdgeError } from "../src/errors.js";
import type { ProfileDirs } from "../src/profile/load-profile.js";

const valid = {
  site: { name: "Test" },
  connections: [{ id: "lan", type: "tcp", host: "127.0.0.1", port: 502 }],
  devices: [{ id: "inv", connection: "lan", profile: "inverter/sunspec-model103-tcp" }],
};

/**
 * Writes an inverter nature with `naturePoints` and a Modbus profile `inverter/<id>` with `points`
 * (YAML flow lines) into a temporary firmware-config; returns its folders and the profile file.
 */
function temporaryProfile(id: string, naturePoints: string[], points: string[]) {
  const dir = mkdtempSync(join(tmpdir(), "profiles-"));
  const dirs: ProfileDirs = { profiles: join(dir, "profiles"), natures: join(dir, "natures") };
  mkdirSync(join(dirs.profiles, "inverter"), { recursive: true });
  mkdirSync(dirs.natures);
  writeFileSync(
    join(dirs.natures, "inverter.yaml"),
    ["class: inverter", "points:", ...naturePoints.map((p) => `  ${p}`)].join("\n"),
  );
  const file = join(dirs.profiles, `inverter/${id}.yaml`);
  const header = [`id: ${id}`, "class: inverter", "brand: X", "product: Y", "protocol: modbus-tcp"];
  writeFileSync(
    file,
    [...header, "defaults: { port: 502, unitId: 1 }", "points:", ...points.map((p) => `  - ${p}`)].join("\n"),
  );
  return { dirs, file, site: { ...valid, devices: [{ ...valid.devices[0], profile: `inverter/${id}` }] } };
}

/** Repairs the schema error of the broken test profile, so that the semantic checks run. */
function fixProfile(file: string): void {
  writeFileSync(file, readFileSync(file, "utf8").replace("int33", "int32"));
}

const problemsOf = (data: unknown, dirs?: ProfileDirs): string => {
  try {
    checkSite("site.yaml", data, dirs);
  } catch (err) {
    t.type(err, EdgeError);
    t.equal((err as EdgeError).code, "EDGE_ERR_CONFIG_INVALID");
    return (err as Error).message;
  }
  throw new Error("expected the configuration to be refused");
};

t.test("a valid site gets its defaults and its profiles", async (t) => {
  const { config, profiles } = checkSite("site.yaml", valid);
  t.equal(config.connections[0]?.timeoutMs, 1000);
  t.equal(config.devices[0]?.pollIntervalMs, 1000);
  t.ok(profiles.get("inverter/sunspec-model103-tcp"));
  t.ok(loadSiteFile(join(sitesDir, "demo.yaml")), "the shipped example site is valid");
});

t.test("every problem is reported with its path", async (t) => {
  const message = problemsOf({
    site: { name: "" },
    connections: [{ id: "lan", type: "tcp", host: "127.0.0.1", port: 70000, extra: 1 }],
    devices: [{ id: "inv", connection: "lan", profile: "inverter/sunspec-model103-tcp", pollIntervalMs: "1s" }],
  });
  t.match(message, "site.yaml: /site/name: must NOT have fewer than 1 characters");
  t.match(message, "site.yaml: /connections/0/port: must be <= 65535");
  t.match(message, 'site.yaml: /connections/0: unknown property "extra"');
  t.match(message, "site.yaml: /devices/0/pollIntervalMs: must be integer");
  t.match(
    problemsOf({ ...valid, connections: [{ ...valid.connections[0], type: "udp" }] }),
    '/connections/0/type: must be one of "tcp", "rtu-over-tcp", "rtu"',
  );
  t.match(problemsOf({ connections: valid.connections }), '/: missing required property "site"');
});

t.test("a site may have no connections and no devices yet (first-run setup saves the name alone)", async (t) => {
  const { config } = checkSite("site.yaml", { site: { name: "New site" } });
  t.same(config.connections, []);
  t.same(config.devices, []);
});

t.test("references are checked after the schema", async (t) => {
  const message = problemsOf({
    ...valid,
    devices: [
      { id: "inv", connection: "nope", profile: "inverter/sunspec-model103-tcp" },
      { id: "inv", connection: "lan", profile: "inverter/no-such-profile" },
    ],
  });
  t.match(message, '/devices/0/connection: no connection with id "nope"');
  t.match(message, '/devices/1/id: duplicate id "inv"');
  t.match(message, "/devices/1/profile: profile inverter/no-such-profile is invalid");
  t.match(message, "cannot read file (ENOENT)");
});

t.test("a broken profile is reported with the profile's own paths", async (t) => {
  const { dirs, file, site } = temporaryProfile(
    "bad",
    ["active_power: { unit: W, description: P }"],
    [
      "{ id: active_power, address: 101, type: int33 }",
      "{ id: power_out, address: 100, type: int16, scale: { register: 300 } }",
    ],
  );
  let message = problemsOf(site, dirs);
  t.match(message, "/devices/0/profile: profile inverter/bad is invalid");
  t.match(message, 'bad.yaml: /points/0/type: must be one of "int16", "uint16"');
  fixProfile(file);
  message = problemsOf(site, dirs);
  t.match(message, 'bad.yaml: /points/1/id: "power_out" is not a point of nature "inverter"');
  t.match(message, "bad.yaml: /points/1/scale/register: value and scale factor span 201 registers");
});

t.test("the edge CLI exits non-zero and names the bad field", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "edge-cli-"));
  const file = join(dir, "site.yaml");
  writeFileSync(file, "site: { name: X }\nconnections: [{ id: lan, type: tcp, host: h, port: 0 }]\ndevices: []\n");
  const result = spawnSync(process.execPath, ["--import", "tsx", "src/main.ts", "--config", file, "--insecure-dev"], {
    cwd: join(import.meta.dirname, ".."),
    env: { ...process.env, EDGE_DATA_DIR: dir },
    encoding: "utf8",
    timeout: 30_000,
  });
  t.equal(result.status, 2);
  t.match(result.stderr, "EDGE_ERR_CONFIG_INVALID");
  t.match(result.stderr, `${file}: /connections/0/port: must be >= 1`);
  t.notMatch(result.stderr, "/devices", "an empty device list is allowed (a site before its first device)");
});

t.test("MQTT connections and devices are checked too", async (t) => {
  const message = problemsOf({
    site: { name: "x" },
    connections: [
      { id: "a", type: "mqtt" },
      { id: "b", type: "mqtt", embedded: true },
    ],
    devices: [
      { id: "d1", connection: "a", profile: "meter/shelly-pro3em-mqtt" },
      { id: "d2", connection: "b", profile: "meter/tasmota-sml-mqtt", vars: { topic: "t" } },
    ],
  });
  t.match(message, '/connections/0: an mqtt connection needs "url" or "embedded: true"');
  t.match(message, "/connections/1/embedded: the embedded broker is not enabled");
  t.match(message, "/devices/0/vars: profile meter/shelly-pro3em-mqtt needs vars.prefix");
  t.match(message, "/devices/1/vars: profile meter/tasmota-sml-mqtt needs vars.meter");
});

t.test("write metadata is checked when the profile loads", async (t) => {
  const { dirs, site } = temporaryProfile(
    "w",
    [
      "power_limit_pct: { unit: '%', description: L }",
      "max_power: { unit: W, description: M }",
      "dc_power: { unit: W, description: D }",
    ],
    [
      "{ id: power_limit_pct, address: 10, type: uint16, write: { min: 100, max: 0 } }",
      "{ id: max_power, address: 11, type: uint32, write: { function: single } }",
      "{ id: dc_power, address: 20, type: int16, function: input, write: {} }",
    ],
  );
  const message = problemsOf(site, dirs);
  t.match(message, "w.yaml: /points/0/write/min: must not be greater than max");
  t.match(message, 'w.yaml: /points/1/write/function: function 06 writes one register; uint32 needs "multiple"');
  t.match(message, "w.yaml: /points/2/write: input registers cannot be written");
});

t.test("a profile used on the wrong kind of connection says so", async (t) => {
  const message = problemsOf({ ...valid, devices: [{ ...valid.devices[0], profile: "meter/shelly-pro3em-mqtt" }] });
  t.match(message, "shelly-pro3em-mqtt.yaml: /protocol: an MQTT profile: use it on an mqtt connection");
});
