import type { ConnectionConfig } from "../../src/config/site-schema.js";

/** A connection configuration for a test server on 127.0.0.1: 300 ms timeout, no pauses. */
export function loopback(port: number, overrides: Partial<ConnectionConfig> = {}): ConnectionConfig {
  return {
    id: "lan",
    type: "tcp",
    host: "127.0.0.1",
    port,
    timeoutMs: 300,
    delayBetweenRequestsMs: 0,
    pauseAfterConnectMs: 0,
    maxRegistersPerRead: 125,
    ...overrides,
  };
}
