/** The suite of ../erp-billing.test.ts on PostgreSQL 15, the oldest supported major. */
process.env.HUB_TEST_POSTGRES = "15";
await import("../erp-billing.test.js");
