/** The suite of ../warehouse-lineage.test.ts on PostgreSQL 15, the oldest supported major. */
process.env.HUB_TEST_POSTGRES = "15";
await import("../warehouse-lineage.test.js");
