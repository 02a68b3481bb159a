/**
 * Helpers shared by the SteinmetZ nodes. The edge agent hands its in-process API to Node-RED as
 * `settings.steinmetz` (see edge/src/node-red/flow-api.ts, `EdgeFlowApi`); without it (Node-RED
 * not embedded in an edge agent) the nodes show a red status and do nothing.
 */
"use strict";

/**
 * The edge's flow API, or null when Node-RED does not run inside an edge agent.
 * @param {object} RED the Node-RED API handed to the node module
 * @returns {object|null}
 */
function edgeApi(RED) {
  try {
    return RED.settings.steinmetz || null;
  } catch {
    return null;
  }
}

/**
 * Parses a comma-separated list of point ids; empty → null (every point).
 * @param {string|undefined} text
 * @returns {string[]|null}
 */
function parsePoints(text) {
  const points = String(text || "")
    .split(",")
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
  return points.length > 0 ? points : null;
}

/**
 * A number from a message payload: a number, or a string holding one; otherwise NaN.
 * @param {unknown} payload
 * @returns {number}
 */
function numberFrom(payload) {
  if (typeof payload === "number") return payload;
  if (typeof payload === "string" && payload.trim() !== "") return Number(payload);
  return Number.NaN;
}

/**
 * A value for a status text: at most 4 significant decimals, with its unit.
 * @param {number|null} value
 * @param {string} [unit]
 * @returns {string}
 */
function formatValue(value, unit) {
  if (value === null || value === undefined) return "–";
  const text = Number.isInteger(value) ? String(value) : String(Math.round(value * 1e4) / 1e4);
  return unit ? `${text} ${unit}` : text;
}

/**
 * Sets a node's status at most once per `intervalMs`; the newest status wins (set when the
 * interval ends), so a busy node does not flood the editor.
 * @param {object} node a Node-RED node
 * @param {number} [intervalMs]
 * @returns {{set: (status: object) => void, close: () => void}}
 */
function throttledStatus(node, intervalMs = 500) {
  let last = 0;
  let timer = null;
  let next = null;
  const apply = () => {
    timer = null;
    last = Date.now();
    node.status(next);
  };
  return {
    set(status) {
      next = status;
      if (timer) return;
      const wait = last + intervalMs - Date.now();
      if (wait <= 0) apply();
      else timer = setTimeout(apply, wait);
    },
    close() {
      if (timer) clearTimeout(timer);
      timer = null;
    },
  };
}

/**
 * The stable code and the text of an error from the edge (EdgeError: `code`, `reason`, ...).
 * @param {unknown} err
 * @returns {{code: string, message: string, reason?: string, exceptionCode?: number}}
 */
function errorInfo(err) {
  const e = /** @type {{code?: string, message?: string, reason?: string, exceptionCode?: number}} */ (err || {});
  const info = { code: typeof e.code === "string" ? e.code : "EDGE_ERR_INTERNAL", message: String(e.message || err) };
  if (e.reason) info.reason = e.reason;
  if (typeof e.exceptionCode === "number") info.exceptionCode = e.exceptionCode;
  return info;
}

/**
 * The device and points a node works on: its own `points` field, else those of its
 * `steinmetz-device` config node.
 * @param {object} RED
 * @param {{device?: string, points?: string}} config the node's configuration
 * @returns {{deviceId: string, points: string[]|null}}
 */
function selection(RED, config) {
  const device = config.device ? RED.nodes.getNode(config.device) : null;
  return {
    deviceId: device ? device.deviceId : "",
    points: parsePoints(config.points) || (device ? device.points : null),
  };
}

module.exports = { edgeApi, parsePoints, numberFrom, formatValue, throttledStatus, errorInfo, selection };
