/**
 * The add-device wizard: 1. connection, 2. find the device (scan or by hand; MQTT: profile and its
 * variables), 3. test read (MQTT: first message), 4. name and save into the configuration.
 */
import { useEffect, useState } from "preact/hooks";
import { api, ifMatch } from "../api.js";
import { navigate } from "../app.js";
import { ErrorBox, Field, ReadOnlyNote, Select, splitProblems } from "../components/form.js";
import { ProfilePicker } from "../components/profile-picker.js";
import { ValuesTable } from "../components/values-table.js";
import { formatNumber } from "../format.js";
import { usePoll } from "../hooks.js";
import { t, tx } from "../i18n.js";
import type {
  ConfigDoc,
  ConnectionConfig,
  DeviceConfig,
  ModbusTransport,
  ProfileInfo,
  ScanFinding,
  ScanResult,
  TestReadResult,
  User,
} from "../types.js";

type ConnType = ConnectionConfig["type"];
type Parity = "none" | "even" | "odd";

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** Turns text into an id matching the configuration's id pattern. */
export function sanitiseId(text: string): string {
  const id = text
    .replace(/[^A-Za-z0-9_.-]+/g, "-")
    .replace(/^[^A-Za-z0-9]+/, "")
    .replace(/-+$/, "")
    .slice(0, 64);
  return id || "x";
}

/** `base`, or `base-2`, `base-3`, ... whichever is not in `taken`. */
export function uniqueId(base: string, taken: Set<string>): string {
  const b = sanitiseId(base);
  if (!taken.has(b)) return b;
  for (let n = 2; ; n++) {
    const id = `${b.slice(0, 60)}-${n}`;
    if (!taken.has(id)) return id;
  }
}

/** Parses "1,126" or "1-10, 20" into unit ids (0–255); null when invalid. */
export function parseUnitIds(text: string): number[] | null {
  const ids: number[] = [];
  for (const part of text.split(/[,\s]+/).filter(Boolean)) {
    const m = /^(\d{1,3})(?:-(\d{1,3}))?$/.exec(part);
    if (!m) return null;
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (from > 255 || to > 255 || to < from) return null;
    for (let u = from; u <= to; u++) if (!ids.includes(u)) ids.push(u);
  }
  return ids.length > 0 && ids.length <= 256 ? ids : null;
}

/** The wizard page (installers; a viewer sees it read-only). */
export function AddDevicePage({ user }: { user: User }) {
  const ro = user.role !== "installer";
  const configDoc = usePoll<ConfigDoc>("/api/v1/config");
  const config = configDoc.data?.config;
  const existing = config?.connections ?? [];

  // 1. connection
  const [reuse, setReuse] = useState("");
  const [type, setType] = useState<ConnType>("tcp");
  const [host, setHost] = useState("");
  const [port, setPort] = useState("502");
  const [path, setPath] = useState("/dev/ttyUSB0");
  const [baud, setBaud] = useState("9600");
  const [parity, setParity] = useState<Parity>("none");
  const [brokerMode, setBrokerMode] = useState<"embedded" | "external">("embedded");
  const [brokerUrl, setBrokerUrl] = useState("mqtt://");
  const [brokerUser, setBrokerUser] = useState("");
  const [brokerPassword, setBrokerPassword] = useState("");
  // 2. find
  const [unitIds, setUnitIds] = useState("1,126");
  const [scan, setScan] = useState<ScanResult | null>(null);
  const [scanning, setScanning] = useState(false);
  const [scanError, setScanError] = useState<unknown>(null);
  const [finding, setFinding] = useState<string | null>(null);
  const [unitId, setUnitId] = useState("");
  const [profileRef, setProfileRef] = useState("");
  const [profile, setProfile] = useState<ProfileInfo | undefined>(undefined);
  const [vars, setVars] = useState<Record<string, string>>({});
  // 3. test
  const [test, setTest] = useState<TestReadResult | null>(null);
  const [testing, setTesting] = useState(false);
  const [testError, setTestError] = useState<unknown>(null);
  // 4. save
  const [deviceId, setDeviceId] = useState<string | null>(null);
  const [pollMs, setPollMs] = useState("1000");
  const [saving, setSaving] = useState(false);
  const [saveError, setSaveError] = useState<unknown>(null);
  const [saveMap, setSaveMap] = useState<Record<string, string>>({});
  const [local, setLocal] = useState<Record<string, string>>({});

  const reused = existing.find((c) => c.id === reuse);
  const connType: ConnType = reused?.type ?? type;
  const mqtt = connType === "mqtt";
  const findingClass = scan?.units
    .flatMap((u) => (u.sunspec?.devices ?? []).map((d, i) => ({ key: `${u.unitId}-${i}`, d })))
    .find((f) => f.key === finding)?.d.class;
  const taken = new Set((config?.devices ?? []).map((d) => d.id));
  const idBase = profile?.class ?? findingClass ?? "device";
  let suggestedId = `${idBase}-1`;
  for (let n = 2; taken.has(suggestedId); n++) suggestedId = `${idBase}-${n}`;
  const shownId = deviceId ?? suggestedId;

  // A changed connection or unit invalidates the last test.
  useEffect(() => {
    setTest(null);
    setTestError(null);
  }, [reuse, type, host, port, path, baud, parity, brokerMode, brokerUrl, unitId, profileRef, JSON.stringify(vars)]);

  /** The Modbus link as scan and test read take it; null (with field errors) when incomplete. */
  const modbusTransport = (): ModbusTransport | null => {
    const c = reused ?? {
      type,
      host: host.trim(),
      port: Number(port),
      path: path.trim(),
      baudRate: Number(baud),
      parity,
    };
    const problems: Record<string, string> = {};
    if (c.type === "rtu") {
      if (!c.path) problems.path = t("required");
    } else {
      if (!c.host) problems.host = t("required");
      if (!Number.isInteger(c.port) || (c.port ?? 0) < 1 || (c.port ?? 0) > 65535) problems.port = "1–65535";
    }
    if (!reused)
      setLocal((l) => ({ ...l, host: problems.host ?? "", port: problems.port ?? "", path: problems.path ?? "" }));
    if (Object.keys(problems).length > 0) return null;
    if (c.type === "rtu")
      return { type: "rtu", path: c.path ?? "", baudRate: c.baudRate ?? 9600, parity: c.parity ?? "none" };
    return { type: c.type === "rtu-over-tcp" ? "rtu-over-tcp" : "tcp", host: c.host ?? "", port: c.port ?? 502 };
  };

  const runScan = async () => {
    const ids = parseUnitIds(unitIds);
    setLocal((l) => ({ ...l, unitIds: ids ? "" : t("unitIdsInvalid") }));
    const transport = modbusTransport();
    if (!ids || !transport) return;
    setScanning(true);
    setScanError(null);
    setScan(null);
    setFinding(null);
    try {
      setScan(await api<ScanResult>("/api/v1/scan", { method: "POST", body: { transport, unitIds: ids } }));
    } catch (err) {
      setScanError(err);
    } finally {
      setScanning(false);
    }
  };

  const pickFinding = (key: string, unit: number, f: ScanFinding) => {
    setFinding(key);
    setUnitId(String(unit));
    setProfileRef(f.suggestedProfile);
    setProfile(undefined);
  };

  const pickProfile = (ref: string, p: ProfileInfo | undefined) => {
    setProfileRef(ref);
    setProfile(p);
    if (p && unitId === "" && p.defaults.unitId !== undefined) setUnitId(String(p.defaults.unitId));
    if (p) setVars((v) => Object.fromEntries(p.vars.map((name) => [name, v[name] ?? ""])));
  };

  /** The broker as the MQTT test takes it: a configured connection by id, or a URL. */
  const mqttTestConnection = (): Record<string, unknown> => {
    if (reused) return { id: reused.id };
    if (brokerMode === "embedded") {
      const configured = existing.find((c) => c.type === "mqtt" && c.embedded);
      if (configured) return { id: configured.id };
      const broker = config?.mqttBroker as { port?: number } | undefined;
      return { url: `mqtt://127.0.0.1:${broker?.port ?? 1883}` };
    }
    return {
      url: brokerUrl.trim(),
      ...(brokerUser ? { username: brokerUser } : {}),
      ...(brokerPassword ? { password: brokerPassword } : {}),
    };
  };

  /** A new MQTT connection for the configuration. */
  const mqttConnectionConfig = (): Partial<ConnectionConfig> =>
    brokerMode === "embedded"
      ? { embedded: true }
      : {
          url: brokerUrl.trim(),
          ...(brokerUser ? { username: brokerUser } : {}),
          ...(brokerPassword ? { password: brokerPassword } : {}),
        };

  const unitNumber = Number(unitId);
  const unitOk = unitId !== "" && Number.isInteger(unitNumber) && unitNumber >= 0 && unitNumber <= 255;
  const canTest = !ro && !!profileRef && (mqtt || unitOk);

  const runTest = async () => {
    setTesting(true);
    setTestError(null);
    setTest(null);
    try {
      if (mqtt) {
        setTest(
          await api<TestReadResult>("/api/v1/mqtt-test", {
            method: "POST",
            body: { connection: mqttTestConnection(), profile: profileRef, vars },
          }),
        );
      } else {
        // A configured link is read through the agent's own connection (one client per device).
        const connection = reused ? { id: reused.id } : modbusTransport();
        if (!connection) return;
        setTest(
          await api<TestReadResult>("/api/v1/test-read", {
            method: "POST",
            body: { connection, unitId: unitNumber, profile: profileRef },
          }),
        );
      }
    } catch (err) {
      setTestError(err);
    } finally {
      setTesting(false);
    }
  };

  const save = async () => {
    setSaveError(null);
    setSaveMap({});
    const idProblem = !ID_PATTERN.test(shownId) ? t("deviceIdInvalid") : taken.has(shownId) ? t("deviceIdTaken") : "";
    const poll = Number(pollMs);
    const pollProblem = !mqtt && (!Number.isInteger(poll) || poll < 100 || poll > 3_600_000) ? "100–3600000" : "";
    setLocal((l) => ({ ...l, deviceId: idProblem, pollMs: pollProblem }));
    if (idProblem || pollProblem) return;
    setSaving(true);
    try {
      const doc = await api<ConfigDoc>("/api/v1/config");
      const next = structuredClone(doc.config);
      next.connections ??= [];
      next.devices ??= [];
      const map: Record<string, string> = {};
      let connectionId: string;
      if (reused) {
        connectionId = reused.id;
      } else {
        let conn: ConnectionConfig;
        if (mqtt) {
          conn = { id: "", type: "mqtt", ...mqttConnectionConfig() };
        } else if (type === "rtu") {
          conn = { id: "", type, path: path.trim(), baudRate: Number(baud), parity };
        } else {
          conn = { id: "", type, host: host.trim(), port: Number(port) };
        }
        const same = next.connections.find(
          (c) =>
            c.type === conn.type &&
            c.host === conn.host &&
            c.port === conn.port &&
            c.path === conn.path &&
            c.url === conn.url &&
            !!c.embedded === !!conn.embedded,
        );
        if (same) {
          connectionId = same.id;
        } else {
          const base = mqtt
            ? conn.embedded
              ? "mqtt-embedded"
              : `mqtt-${conn.url?.replace(/^mqtts?:\/\//, "") ?? ""}`
            : type === "rtu"
              ? `rtu-${path.trim()}`
              : `${type === "tcp" ? "tcp" : "rtu-tcp"}-${host.trim()}-${port}`;
          connectionId = uniqueId(base, new Set(next.connections.map((c) => c.id)));
          conn.id = connectionId;
          const ci = next.connections.length;
          next.connections.push(conn);
          Object.assign(map, {
            [`/connections/${ci}/host`]: "host",
            [`/connections/${ci}/port`]: "port",
            [`/connections/${ci}/path`]: "path",
            [`/connections/${ci}/baudRate`]: "baud",
            [`/connections/${ci}/parity`]: "parity",
            [`/connections/${ci}/url`]: "brokerUrl",
            [`/connections/${ci}/username`]: "brokerUser",
            [`/connections/${ci}/password`]: "brokerPassword",
          });
        }
      }
      const device: DeviceConfig = { id: shownId, connection: connectionId, profile: profileRef };
      if (mqtt) {
        if (Object.keys(vars).length > 0) device.vars = vars;
        if (!reused && brokerMode === "embedded") next.mqttBroker = { ...next.mqttBroker, enabled: true };
      } else {
        device.unitId = unitNumber;
        device.pollIntervalMs = poll;
      }
      const di = next.devices.length;
      next.devices.push(device);
      Object.assign(map, {
        [`/devices/${di}/id`]: "deviceId",
        [`/devices/${di}/pollIntervalMs`]: "pollMs",
        [`/devices/${di}/unitId`]: "unitId",
        [`/devices/${di}/profile`]: "profile",
        [`/devices/${di}/connection`]: "reuse",
        ...Object.fromEntries(Object.keys(vars).map((name) => [`/devices/${di}/vars/${name}`, `var-${name}`])),
      });
      setSaveMap(map);
      await api("/api/v1/config", {
        method: "PUT",
        headers: ifMatch(doc.version),
        body: { config: next, comment: `add device ${shownId}` },
      });
      navigate("devices");
    } catch (err) {
      setSaveError(err);
    } finally {
      setSaving(false);
    }
  };

  const { fields, others } = splitProblems(saveError, saveMap);
  const testProblems = splitProblems(testError, {
    "/unitId": "unitId",
    "/profile": "profile",
    "/connection/id": "reuse",
    "/connection/host": "host",
    "/connection/port": "port",
    "/connection/path": "path",
    "/connection/url": "brokerUrl",
  });
  const scanProblems = splitProblems(scanError, {
    "/transport/host": "host",
    "/transport/port": "port",
    "/transport/path": "path",
    "/unitIds": "unitIds",
  });
  const err = (k: string) => local[k] || fields[k] || testProblems.fields[k] || scanProblems.fields[k] || undefined;

  const typeOptions: { value: ConnType; label: string }[] = [
    { value: "tcp", label: t("typeTcp") },
    { value: "rtu-over-tcp", label: t("typeRtuOverTcp") },
    { value: "rtu", label: t("typeRtu") },
    { value: "mqtt", label: t("typeMqtt") },
  ];
  const connLabel = (c: ConnectionConfig) =>
    `${c.id} (${c.type}${c.host ? ` ${c.host}:${c.port ?? ""}` : ""}${c.path ? ` ${c.path}` : ""}${c.url ? ` ${c.url}` : ""}${c.embedded ? " embedded" : ""})`;

  return (
    <>
      <div class="page-head">
        <h1>{t("wizardTitle")}</h1>
        <a href="#/devices">{t("cancel")}</a>
      </div>
      {ro && <ReadOnlyNote />}
      <ErrorBox error={configDoc.error} />
      <form class="wizard" onSubmit={(e) => e.preventDefault()} noValidate>
        <fieldset class="card step">
          <legend>{t("stepConnection")}</legend>
          {existing.length > 0 && (
            <Select
              id="wizard-reuse"
              label={t("reuseConnection")}
              value={reuse}
              onValue={setReuse}
              options={[
                { value: "", label: `– ${t("newConnection")} –` },
                ...existing.map((c) => ({ value: c.id, label: connLabel(c) })),
              ]}
              disabled={ro}
              error={err("reuse")}
              testId="wizard-reuse"
            />
          )}
          {!reused && (
            <>
              <fieldset class="choices">
                <legend>{t("connectionType")}</legend>
                {typeOptions.map((o) => (
                  <label key={o.value}>
                    <input
                      type="radio"
                      name="wizard-type"
                      value={o.value}
                      checked={type === o.value}
                      disabled={ro}
                      onChange={() => {
                        setType(o.value);
                        setProfileRef("");
                        setProfile(undefined);
                        setScan(null);
                      }}
                      data-testid={`wizard-type-${o.value}`}
                    />{" "}
                    {o.label}
                  </label>
                ))}
              </fieldset>
              {(type === "tcp" || type === "rtu-over-tcp") && (
                <div class="row">
                  <Field
                    id="wizard-host"
                    label={t("host")}
                    value={host}
                    onValue={setHost}
                    disabled={ro}
                    error={err("host")}
                    testId="wizard-host"
                    required
                    autocomplete="off"
                    placeholder="192.168.1.50"
                  />
                  <Field
                    id="wizard-port"
                    label={t("port")}
                    value={port}
                    onValue={setPort}
                    disabled={ro}
                    error={err("port")}
                    testId="wizard-port"
                    inputMode="numeric"
                    class="short"
                  />
                </div>
              )}
              {type === "rtu" && (
                <div class="row">
                  <Field
                    id="wizard-path"
                    label={t("serialPath")}
                    value={path}
                    onValue={setPath}
                    disabled={ro}
                    error={err("path")}
                    testId="wizard-path"
                  />
                  <Select
                    id="wizard-baud"
                    label={t("baudRate")}
                    value={baud}
                    onValue={setBaud}
                    disabled={ro}
                    error={err("baud")}
                    options={["1200", "2400", "4800", "9600", "19200", "38400", "57600", "115200"].map((b) => ({
                      value: b,
                      label: b,
                    }))}
                    testId="wizard-baud"
                  />
                  <Select
                    id="wizard-parity"
                    label={t("parity")}
                    value={parity}
                    onValue={(v) => setParity(v as Parity)}
                    disabled={ro}
                    error={err("parity")}
                    options={[
                      { value: "none", label: t("parityNone") },
                      { value: "even", label: t("parityEven") },
                      { value: "odd", label: t("parityOdd") },
                    ]}
                    testId="wizard-parity"
                  />
                </div>
              )}
              {type === "mqtt" && (
                <>
                  <fieldset class="choices">
                    <legend>{t("broker")}</legend>
                    <label>
                      <input
                        type="radio"
                        name="wizard-broker"
                        checked={brokerMode === "embedded"}
                        disabled={ro}
                        onChange={() => setBrokerMode("embedded")}
                        data-testid="wizard-broker-embedded"
                      />{" "}
                      {t("brokerEmbedded")}
                    </label>
                    <label>
                      <input
                        type="radio"
                        name="wizard-broker"
                        checked={brokerMode === "external"}
                        disabled={ro}
                        onChange={() => setBrokerMode("external")}
                        data-testid="wizard-broker-external"
                      />{" "}
                      {t("brokerExternal")}
                    </label>
                  </fieldset>
                  {brokerMode === "external" && (
                    <div class="row">
                      <Field
                        id="wizard-broker-url"
                        label={t("brokerUrl")}
                        value={brokerUrl}
                        onValue={setBrokerUrl}
                        disabled={ro}
                        error={err("brokerUrl")}
                        testId="wizard-broker-url"
                      />
                      <Field
                        id="wizard-broker-user"
                        label={t("brokerUser")}
                        value={brokerUser}
                        onValue={setBrokerUser}
                        disabled={ro}
                        error={err("brokerUser")}
                        autocomplete="off"
                      />
                      <Field
                        id="wizard-broker-password"
                        type="password"
                        label={t("brokerPassword")}
                        value={brokerPassword}
                        onValue={setBrokerPassword}
                        disabled={ro}
                        error={err("brokerPassword")}
                        autocomplete="new-password"
                      />
                    </div>
                  )}
                </>
              )}
            </>
          )}
        </fieldset>

        {!mqtt && (
          <fieldset class="card step">
            <legend>{t("stepFind")}</legend>
            <div class="row align-end">
              <Field
                id="wizard-unit-ids"
                label={t("unitIds")}
                hint={t("unitIdsHint")}
                value={unitIds}
                onValue={setUnitIds}
                disabled={ro}
                error={err("unitIds")}
                testId="wizard-unit-ids"
              />
              <button
                type="button"
                onClick={() => void runScan()}
                disabled={ro || scanning}
                data-testid="wizard-scan"
                aria-busy={scanning ? "true" : undefined}
              >
                {scanning ? t("scanning") : t("scan")}
              </button>
            </div>
            <ErrorBox error={scanError} others={scanProblems.others} />
            {scan && (
              <div class="findings" aria-live="polite">
                {scan.units.every((u) => !u.answers) && <p>{t("scanNothing")}</p>}
                {scan.units.some((u) => u.sunspec && u.sunspec.devices.length > 0) && (
                  <fieldset class="choices">
                    <legend>{t("findings")}</legend>
                    <ul class="finding-list">
                      {scan.units.flatMap((u) =>
                        (u.sunspec?.devices ?? []).map((d, i) => {
                          const key = `${u.unitId}-${i}`;
                          return (
                            <li key={key}>
                              <label
                                class={finding === key ? "finding selected" : "finding"}
                                data-testid={`finding-${key}`}
                              >
                                <input
                                  type="radio"
                                  name="wizard-finding"
                                  checked={finding === key}
                                  disabled={ro}
                                  onChange={() => pickFinding(key, u.unitId, d)}
                                />
                                <span class="finding-text">
                                  <strong>
                                    {d.manufacturer} {d.model}
                                  </strong>{" "}
                                  · {tx(`c.${d.class}`, d.class)}
                                  <br />
                                  <span class="muted">
                                    {t("unitId")} {u.unitId} · {t("serial")} {d.serialNumber || "–"}
                                    {d.version ? ` · v${d.version}` : ""} · <code>{d.suggestedProfile}</code>
                                  </span>
                                </span>
                              </label>
                            </li>
                          );
                        }),
                      )}
                    </ul>
                  </fieldset>
                )}
                {scan.units
                  .filter((u) => u.answers && !u.sunspec)
                  .map((u) => (
                    <p key={u.unitId} class="notice info">
                      {t("scanNoSunspec", { unit: u.unitId })}{" "}
                      <button
                        type="button"
                        class="secondary small"
                        disabled={ro}
                        onClick={() => setUnitId(String(u.unitId))}
                      >
                        {t("useUnit", { unit: u.unitId })}
                      </button>
                    </p>
                  ))}
              </div>
            )}
            <p class="hint">{t("orManual")}</p>
            <div class="row">
              <Field
                id="wizard-unit-id"
                label={t("unitId")}
                value={unitId}
                onValue={setUnitId}
                disabled={ro}
                error={err("unitId")}
                testId="wizard-unit-id"
                inputMode="numeric"
                class="short"
              />
            </div>
            <ProfilePicker
              transport="modbus"
              value={profileRef}
              onValue={pickProfile}
              disabled={ro}
              error={err("profile")}
            />
          </fieldset>
        )}

        {mqtt && (
          <fieldset class="card step">
            <legend>{t("stepMqttProfile")}</legend>
            <ProfilePicker
              transport="mqtt"
              value={profileRef}
              onValue={pickProfile}
              disabled={ro}
              error={err("profile")}
            />
            {Object.keys(vars).map((name) => (
              <Field
                key={name}
                id={`wizard-var-${name}`}
                label={name}
                value={vars[name] ?? ""}
                onValue={(v) => setVars((all) => ({ ...all, [name]: v }))}
                disabled={ro}
                error={err(`var-${name}`)}
                testId={`wizard-var-${name}`}
              />
            ))}
          </fieldset>
        )}

        <fieldset class="card step">
          <legend>{mqtt ? t("stepMqttTest") : t("stepTest")}</legend>
          {!canTest && !ro && <p class="hint">{t("needProfile")}</p>}
          <button
            type="button"
            onClick={() => void runTest()}
            disabled={!canTest || testing}
            data-testid="wizard-test-read"
            aria-busy={testing ? "true" : undefined}
          >
            {testing ? (mqtt ? t("waiting") : t("testReading")) : mqtt ? t("waitMessage") : t("testRead")}
          </button>
          <ErrorBox error={testError} others={testProblems.others} />
          {test && (
            <>
              <p class="muted">
                {test.topic
                  ? t("topic", { topic: test.topic })
                  : t("testReadInfo", {
                      n: test.values.length,
                      ms: formatNumber(test.durationMs ?? 0, 0),
                      req: test.requests ?? 0,
                    })}
              </p>
              <ValuesTable
                testId="test-read-values"
                cellTestId={(point) => `test-value-${point}`}
                values={test.values}
              />
            </>
          )}
        </fieldset>

        <fieldset class="card step">
          <legend>{t("stepSave")}</legend>
          <div class="row">
            <Field
              id="wizard-device-id"
              label={t("deviceId")}
              hint={t("deviceIdHint")}
              value={shownId}
              onValue={setDeviceId}
              disabled={ro}
              error={err("deviceId")}
              testId="wizard-device-id"
              maxLength={64}
              autocomplete="off"
            />
            {!mqtt && (
              <Field
                id="wizard-poll"
                label={t("pollInterval")}
                value={pollMs}
                onValue={setPollMs}
                disabled={ro}
                error={err("pollMs")}
                testId="wizard-poll"
                inputMode="numeric"
              />
            )}
          </div>
          <ErrorBox error={saveError} others={others} />
          <button
            type="button"
            onClick={() => void save()}
            disabled={ro || saving || !profileRef || (!mqtt && !unitOk)}
            data-testid="wizard-save"
          >
            {t("save")}
          </button>
        </fieldset>
      </form>
    </>
  );
}
