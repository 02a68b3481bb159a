/** Simulated site devices for the demo and the tests. */
export { BatteryModel, type BatteryModelOptions, type BatteryState, CHARGE_STATUS } from "./battery-model.js";
export { findFreePort } from "./free-port.js";
export { heatPumpLoad, householdLoad, houseLoad } from "./house-load.js";
export { RegisterImage } from "./register-image.js";
export { crc16, type RegisterSource, type RtuOverTcpServer, startRtuOverTcpServer } from "./rtu-over-tcp.js";
export {
  type ShellyEmDataStatus,
  type ShellyEmStatus,
  type ShellyPro3emSim,
  type ShellyPro3emSimOptions,
  shellyEmDataStatus,
  shellyEmStatus,
  startShellyPro3emSim,
} from "./shelly-pro3em.js";
export { type SimClock, type SimClockOptions, simClock } from "./sim-clock.js";
export { type SimSite, type SimSiteOptions, startSimSite } from "./site.js";
export { type SiteFlow, SitePower, type SitePowerOptions } from "./site-power.js";
export { irradiance } from "./sun.js";
export {
  BATTERY_SUNSPEC_BASE,
  type SunSpecBatterySim,
  type SunSpecBatterySimOptions,
  startSunSpecBatterySim,
} from "./sunspec-battery.js";
export {
  type LimitWrite,
  SUNSPEC_BASE,
  type SunSpecInverterSim,
  type SunSpecInverterSimOptions,
  startSunSpecInverterSim,
} from "./sunspec-inverter.js";
