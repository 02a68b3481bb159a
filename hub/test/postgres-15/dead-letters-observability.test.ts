/** The suite of ../dead-letters-observability.test.ts on PostgreSQL 15, the oldest supported major. */
process.env.HUB_TEST_POSTGRES = "15";
await import("../dead-letters-observability.test.js");
