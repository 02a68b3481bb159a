/** The edge agent as a library: used by the demo launcher and the tests. */
export { type EdgeAgent, type EdgeAgentOptions, type EdgeStatus, startEdgeAgent } from "./agent.js";
export { ReadingBuffer } from "./buffer/reading-buffer.js";
export { checkSite, type LoadedSite, loadSiteFile } from "./config/load-site.js";
export { EDGE_ERRORS, EdgeError } from "./errors.js";
export { loadUiAssets } from "./http/ui-assets.js";
export { createEdgeMetrics } from "./metrics.js";
export type { EdgeFlowApi, FlowDevice, FlowDeviceState, FlowReading } from "./node-red/flow-api.js";
export { Forwarder } from "./sync/forwarder.js";
export { loadEdgeTls } from "./sync/tls.js";
