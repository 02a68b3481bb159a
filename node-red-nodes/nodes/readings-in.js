/**
 * `steinmetz readings in`: emits the edge's readings as they are committed to the buffer (each
 * with its seq), filtered by device and point, optionally only on change (beyond a deadband)
 * and at most one per series per rate-limit interval.
 */
"use strict";

const { edgeApi, formatValue, selection, throttledStatus } = require("./lib/edge");

/** @param {object} RED */
module.exports = function register(RED) {
  /**
   * @param {{device?: string, points?: string, rateLimit?: number|string, onChange?: boolean,
   *   deadband?: number|string, goodOnly?: boolean}} config
   */
  function ReadingsIn(config) {
    RED.nodes.createNode(this, config);
    const api = edgeApi(RED);
    const { deviceId, points } = selection(RED, config);
    const rateMs = Math.max(0, Number(config.rateLimit) || 0) * 1000;
    const onChange = config.onChange === true;
    const deadband = Math.max(0, Number(config.deadband) || 0);
    const goodOnly = config.goodOnly !== false;
    const status = throttledStatus(this);
    /** Per series (`device/point`): last emitted time, value and quality. */
    const last = new Map();

    if (!api) {
      this.status({ fill: "red", shape: "ring", text: "no edge API" });
      this.error("not running inside a SteinmetZ edge agent (settings.steinmetz missing)");
      return;
    }
    this.status({ fill: "grey", shape: "ring", text: "waiting" });

    /** @param {{seq: number, deviceId: string, point: string, ts: number, value: number|null, quality: string, unit: string}} r */
    const wanted = (r) => {
      if (deviceId && r.deviceId !== deviceId) return false;
      if (points && !points.includes(r.point)) return false;
      if (goodOnly && r.quality !== "good") return false;
      const key = `${r.deviceId}/${r.point}`;
      const before = last.get(key);
      const now = Date.now();
      if (before) {
        if (onChange && before.quality === r.quality) {
          if (r.value === null && before.value === null) return false;
          if (r.value !== null && before.value !== null && Math.abs(r.value - before.value) <= deadband) return false;
        }
        if (rateMs > 0 && now - before.at < rateMs) return false;
      }
      last.set(key, { at: now, value: r.value, quality: r.quality });
      return true;
    };

    const unsubscribe = api.onReadings((readings) => {
      for (const r of readings) {
        if (!wanted(r)) continue;
        this.send({ topic: `${r.deviceId}/${r.point}`, payload: r.value, reading: r });
        status.set({
          fill: r.quality === "good" ? "green" : "yellow",
          shape: "dot",
          text: `${deviceId ? "" : `${r.deviceId} `}${r.point}: ${formatValue(r.value, r.unit)}`,
        });
      }
    });

    this.on("close", () => {
      unsubscribe();
      status.close();
    });
  }
  RED.nodes.registerType("steinmetz readings in", ReadingsIn);
};
