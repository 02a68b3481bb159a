/**
 * `steinmetz publish reading`: msg.payload (a number) becomes a reading of a point of a virtual
 * device: it enters the edge buffer, gets a seq and reaches the hub like a measured reading.
 */
"use strict";

const { edgeApi, errorInfo, formatValue, numberFrom, throttledStatus } = require("./lib/edge");

/** @param {object} RED */
module.exports = function register(RED) {
  /** @param {{device: string, point: string, unit?: string}} config */
  function PublishReading(config) {
    RED.nodes.createNode(this, config);
    const api = edgeApi(RED);
    const deviceId = String(config.device || "").trim();
    const point = String(config.point || "").trim();
    const unit = String(config.unit || "").trim();
    const status = throttledStatus(this);
    if (!api) {
      this.status({ fill: "red", shape: "ring", text: "no edge API" });
      this.error("not running inside a SteinmetZ edge agent (settings.steinmetz missing)");
      return;
    }

    this.on("input", (msg, _send, done) => {
      const value = numberFrom(msg.payload);
      const target = typeof msg.point === "string" && msg.point ? msg.point : point;
      const ts = typeof msg.ts === "number" ? msg.ts : undefined;
      try {
        api.publish(deviceId, target, value, { ts, unit: unit || undefined });
        status.set({ fill: "green", shape: "dot", text: `${target}: ${formatValue(value, unit)}` });
        done();
      } catch (err) {
        const error = errorInfo(err);
        status.set({ fill: "red", shape: "ring", text: error.code });
        done(`${error.code}: ${error.message}`);
      }
    });
    this.on("close", () => status.close());
  }
  RED.nodes.registerType("steinmetz publish reading", PublishReading);
};
