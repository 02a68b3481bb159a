/** The suite of ../warehouse-quality.test.ts on PostgreSQL 15, the oldest supported major. */
process.env.HUB_TEST_POSTGRES = "15";
await import("../warehouse-quality.test.js");
