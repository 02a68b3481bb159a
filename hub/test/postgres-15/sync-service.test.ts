/** The suite of ../sync-service.test.ts on PostgreSQL 15, the oldest supported major. */
process.env.HUB_TEST_POSTGRES = "15";
await import("../sync-service.test.js");
