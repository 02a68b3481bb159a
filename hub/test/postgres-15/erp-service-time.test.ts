/** The suite of ../erp-service-time.test.ts on PostgreSQL 15, the oldest supported major. */
process.env.HUB_TEST_POSTGRES = "15";
await import("../erp-service-time.test.js");
