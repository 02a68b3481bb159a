/**
 * `npm run sim -- [--host H] [--port P] [--unit-id N] [--speed X] [--state FILE] [--controls] [--meter]
 * [--sun 0..1] [--house-load W]`: runs the simulated SunSpec inverter until Ctrl-C (`--controls`: with a
 * writable power limit, model 123; `--meter`: a grid meter behind it; `--sun`: fixed irradiance instead of
 * the sun curve; `--house-load`: fixed house load seen by the meter).
 */
import { parseArgs } from "node:util";
import pino from "pino";
import { startSunSpecInverterSim } from "./sunspec-inverter.js";

const log = pino({ name: "sim" });
const { values } = parseArgs({
  options: {
    host: { type: "string", default: "127.0.0.1" },
    port: { type: "string", default: "5020" },
    "unit-id": { type: "string", default: "1" },
    speed: { type: "string", default: "1" },
    state: { type: "string" },
    controls: { type: "boolean", default: false },
    meter: { type: "boolean", default: false },
    sun: { type: "string" },
    "house-load": { type: "string" },
  },
});

const sim = await startSunSpecInverterSim({
  host: values.host,
  port: Number(values.port),
  unitId: Number(values["unit-id"]),
  speed: Number(values.speed),
  stateFile: values.state,
  controls: values.controls,
  meter: values.meter,
  sun: values.sun === undefined ? undefined : Number(values.sun),
  houseLoadW: values["house-load"] === undefined ? undefined : Number(values["house-load"]),
});
log.info({ host: sim.host, port: sim.port, unitId: sim.unitId }, "SunSpec inverter simulator listening");
const stop = async () => {
  await sim.close();
  log.info("simulator stopped");
  process.exit(0);
};
process.once("SIGINT", stop);
process.once("SIGTERM", stop);
