/** The ingest domain: the edges' gRPC link (readings, gaps, device inventories) and what it stores. */
export {
  DeviceInventoryStore,
  type DeviceStateChange,
  type DeviceStateName,
  type StoredInventory,
} from "./device-inventory.js";
export { type DeviceInventoryOptions, deviceInventoryRoutes } from "./device-routes.js";
export { type SyncServiceDeps, startSyncServer } from "./sync-service.js";
