/** The suite of ../reading-store.test.ts on PostgreSQL 15, the oldest supported major. */
process.env.HUB_TEST_POSTGRES = "15";
await import("../reading-store.test.js");
