/** Simulated site devices for the demo and the tests. */
export { findFreePort } from "./free-port.js";
export { RegisterImage } from "./register-image.js";
export { crc16, type RegisterSource, type RtuOverTcpServer, startRtuOverTcpServer } from "./rtu-over-tcp.js";
export { irradiance } from "./sun.js";
export {
  type LimitWrite,
  SUNSPEC_BASE,
  type SunSpecInverterSim,
  type SunSpecInverterSimOptions,
  startSunSpecInverterSim,
} from "./sunspec-inverter.js";
