/**
 * `steinmetz device status`: emits a message whenever a device of the edge changes state
 * (unknown → ok, ok → fault, fault → ok), with the fault's stable code and the device's words.
 */
"use strict";

const { edgeApi, selection } = require("./lib/edge");

/** @param {object} RED */
module.exports = function register(RED) {
  /** @param {{device?: string, initial?: boolean}} config */
  function DeviceStatus(config) {
    RED.nodes.createNode(this, config);
    const api = edgeApi(RED);
    const { deviceId } = selection(RED, config);
    if (!api) {
      this.status({ fill: "red", shape: "ring", text: "no edge API" });
      this.error("not running inside a SteinmetZ edge agent (settings.steinmetz missing)");
      return;
    }

    const show = () => {
      const states = api.deviceStates().filter((s) => !deviceId || s.deviceId === deviceId);
      if (deviceId) {
        const s = states[0];
        if (!s) this.status({ fill: "grey", shape: "ring", text: "not configured" });
        else if (s.status === "ok") this.status({ fill: "green", shape: "dot", text: "ok" });
        else if (s.status === "fault") this.status({ fill: "red", shape: "dot", text: `fault: ${s.code}` });
        else this.status({ fill: "grey", shape: "ring", text: "unknown" });
        return;
      }
      const faults = states.filter((s) => s.status === "fault").length;
      const ok = states.filter((s) => s.status === "ok").length;
      this.status({ fill: faults > 0 ? "red" : "green", shape: "dot", text: `${ok} ok, ${faults} fault` });
    };
    /** @param {{deviceId: string, status: string}} event */
    const emit = (event) => {
      this.send({ topic: event.deviceId, payload: event });
    };

    const unsubscribe = api.onDeviceState((event) => {
      if (deviceId && event.deviceId !== deviceId) return;
      emit(event);
      show();
    });
    show();
    // Like an inject node's "once": a moment after deploy, when the flow is wired up.
    const initial =
      config.initial === true
        ? setTimeout(() => {
            for (const s of api.deviceStates()) if (!deviceId || s.deviceId === deviceId) emit(s);
          }, 100)
        : null;
    this.on("close", () => {
      if (initial) clearTimeout(initial);
      unsubscribe();
    });
  }
  RED.nodes.registerType("steinmetz device status", DeviceStatus);
};
