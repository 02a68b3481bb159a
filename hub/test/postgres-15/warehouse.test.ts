/** The suite of ../warehouse.test.ts on PostgreSQL 15, the oldest supported major. */
process.env.HUB_TEST_POSTGRES = "15";
await import("../warehouse.test.js");
