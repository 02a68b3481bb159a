/**
 * `steinmetz write setpoint`: writes msg.payload to a point of a device through the edge's typed
 * write API (profile bounds and refused values checked before anything is sent, read back after),
 * on change and, while messages keep coming, again every refresh interval so a device's revert
 * timeout never expires under a running flow.
 */
"use strict";

const { edgeApi, errorInfo, formatValue, numberFrom, selection } = require("./lib/edge");

/** @param {object} RED */
module.exports = function register(RED) {
  /** @param {{device: string, point: string, refresh?: number|string}} config */
  function WriteSetpoint(config) {
    RED.nodes.createNode(this, config);
    const api = edgeApi(RED);
    const { deviceId } = selection(RED, config);
    const point = String(config.point || "").trim();
    const refreshMs = Math.max(0, Number(config.refresh ?? 30) || 0) * 1000;
    let closed = false;
    /** The last value written successfully, and when. */
    let lastValue = null;
    let lastAt = 0;
    let lastErrorCode = null;
    let busy = false;
    /** The newest message waiting while a write is in flight (older ones are superseded). */
    let pending = null;

    if (!api) {
      this.status({ fill: "red", shape: "ring", text: "no edge API" });
      this.error("not running inside a SteinmetZ edge agent (settings.steinmetz missing)");
      return;
    }
    if (!deviceId || !point) {
      this.status({ fill: "red", shape: "ring", text: "device and point needed" });
      return;
    }
    this.status({ fill: "grey", shape: "ring", text: point });

    const unitOf = () => {
      const device = api.devices().find((d) => d.id === deviceId);
      const p = device?.points.find((q) => q.id === point);
      return p ? p.unit : "";
    };

    /**
     * @param {object} msg
     * @param {Function} send
     * @param {{code: string, message: string, reason?: string}} error
     */
    const failed = (msg, send, error) => {
      this.status({ fill: "red", shape: "ring", text: `${error.code}${error.reason ? ` (${error.reason})` : ""}` });
      send([null, { ...msg, error }]);
      // Logged once per kind of failure, not once per message of a controller that keeps sending.
      if (lastErrorCode !== error.code) this.error(`${error.code}: ${error.message}`);
      lastErrorCode = error.code;
    };

    /** @param {{msg: object, value: number, send: Function, done: Function}} job */
    const run = (job) => {
      const due = lastValue === null || lastValue !== job.value || (refreshMs > 0 && Date.now() - lastAt >= refreshMs);
      if (!due) {
        job.done();
        return next();
      }
      busy = true;
      api.write(deviceId, point, job.value, { source: this.id }).then(
        (result) => {
          busy = false;
          if (!closed) {
            lastValue = job.value;
            lastAt = Date.now();
            lastErrorCode = null;
            this.status({
              fill: "green",
              shape: "dot",
              text: `${point} = ${formatValue(result.value, unitOf())}${result.readBack === null ? "" : " ✓"}`,
            });
            job.send([{ ...job.msg, payload: result.value, write: result }, null]);
          }
          job.done();
          next();
        },
        (err) => {
          busy = false;
          lastValue = null;
          if (!closed) failed(job.msg, job.send, errorInfo(err));
          job.done();
          next();
        },
      );
    };
    const next = () => {
      if (busy || !pending || closed) return;
      const job = pending;
      pending = null;
      run(job);
    };

    this.on("input", (msg, send, done) => {
      const value = numberFrom(msg.payload);
      if (!Number.isFinite(value)) {
        failed(msg, send, {
          code: "EDGE_ERR_WRITE_REFUSED",
          reason: "not-finite",
          message: `${point}: payload ${JSON.stringify(msg.payload)} is not a number`,
        });
        done();
        return;
      }
      if (pending) pending.done();
      pending = { msg, value, send, done };
      next();
    });
    this.on("close", () => {
      closed = true;
      if (pending) pending.done();
      pending = null;
    });
  }
  RED.nodes.registerType("steinmetz write setpoint", WriteSetpoint);
};
