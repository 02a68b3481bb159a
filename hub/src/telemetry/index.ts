/** The telemetry domain: read access to what the edges delivered. */
export { type TelemetryOptions, telemetryRoutes } from "./routes.js";
