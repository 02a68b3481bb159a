/**
 * `steinmetz-device`: a configuration node naming one device of the edge (by its id in the site
 * configuration, or a virtual device) and optionally a set of its points.
 */
"use strict";

const { edgeApi, parsePoints } = require("./lib/edge");

/** @param {object} RED */
module.exports = function register(RED) {
  /**
   * @param {{name?: string, device: string, points?: string}} config
   */
  function SteinmetzDevice(config) {
    RED.nodes.createNode(this, config);
    /** The device id in the site configuration (or `virtual.<name>`). */
    this.deviceId = String(config.device || "").trim();
    /** Selected points, or null for every point. */
    this.points = parsePoints(config.points);
  }
  RED.nodes.registerType("steinmetz-device", SteinmetzDevice);

  // The editor's device picker: the edge's devices with points, units and writable bounds.
  RED.httpAdmin.get("/steinmetz/devices", RED.auth.needsPermission("steinmetz.read"), (_req, res) => {
    const api = edgeApi(RED);
    try {
      res.json(api ? api.devices() : []);
    } catch (err) {
      res.status(500).json({ error: String(err?.message) });
    }
  });
};
