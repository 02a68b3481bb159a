/**
 * A simulated site of 50 devices on 5 connections, polled every second by a real edge process that
 * forwards to a real hub: CPU share of one core and peak RSS of the edge over 60 s, next to the same
 * edge polling a single device (the agent's floor) measured in the same run.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { startHub } from "@steinmetz/hub";
import { startSunSpecInverterSim } from "@steinmetz/sim";
import pino from "pino";
import { stringify } from "yaml";
import { APPLIANCE_NODE_FLAGS, buildEdge } from "../tools/build.js";

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

function cpuTicks(pid: number): number {
  // Fields after the command name: utime and stime are the 12th and 13th.
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

function rssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8").match(/^VmRSS:\s+(\d+) kB/m);
  return Number(line?.[1] ?? 0) / 1024;
}

async function measureEdge(edge: string, siteFile: string, hubUrl: string, seconds: number) {
  const dataDir = mkdtempSync(join(tmpdir(), "bench-edge-"));
  const child = spawn(process.execPath, [...APPLIANCE_NODE_FLAGS, edge, "--config", siteFile, "--insecure-dev"], {
    env: { ...process.env, EDGE_DATA_DIR: dataDir, HUB_URL: hubUrl, EDGE_HTTP_PORT: "0", LOG_LEVEL: "warn" },
    stdio: "ignore",
  });
  const pid = child.pid as number;
  try {
    await sleep(10_000); // start-up and the first cycles are not the steady state
    const startTicks = cpuTicks(pid);
    let peak = 0;
    for (let s = 0; s < seconds; s++) {
      await sleep(1000);
      peak = Math.max(peak, rssMb(pid));
    }
    const cpu = (cpuTicks(pid) - startTicks) / TICKS_PER_SECOND / seconds;
    return { cpuPct: cpu * 100, peakRssMb: peak };
  } finally {
    child.kill("SIGTERM");
    await new Promise((resolve) => child.once("exit", resolve));
  }
}

/** Runs the site-load benchmark (about 2.5 minutes). */
export async function benchSiteLoad(seconds = 60) {
  const log = pino({ level: "silent" });
  const dir = mkdtempSync(join(tmpdir(), "bench-site-"));
  const hub = await startHub({ dataDir: join(dir, "hub"), httpPort: 0, grpcPort: 0, insecureDev: true, log });
  // Each simulator answers every unit id, like an RS485 gateway with ten inverters behind it.
  const sims = await Promise.all(Array.from({ length: 5 }, () => startSunSpecInverterSim({ unitId: 255 })));
  try {
    const site = (connections: number, perConnection: number) => {
      const file = join(dir, `site-${connections}x${perConnection}.yaml`);
      writeFileSync(
        file,
        stringify({
          site: { name: "Bench site" },
          connections: sims
            .slice(0, connections)
            .map((sim, i) => ({ id: `gw${i}`, type: "tcp", host: sim.host, port: sim.port })),
          devices: sims.slice(0, connections).flatMap((_, c) =>
            Array.from({ length: perConnection }, (_, u) => ({
              id: `inv-${c}-${u + 1}`,
              connection: `gw${c}`,
              unitId: u + 1,
              profile: "inverter/sunspec-model103-tcp",
              pollIntervalMs: 1000,
            })),
          ),
        }),
      );
      return file;
    };
    const hubUrl = `127.0.0.1:${hub.grpcPort}`;
    // Measured as it runs on an appliance: the bundled JavaScript with its V8 flags, no TypeScript loader.
    const edge = await buildEdge();
    const one = await measureEdge(edge, site(1, 1), hubUrl, seconds);
    const fifty = await measureEdge(edge, site(5, 10), hubUrl, seconds);
    return { one, fifty };
  } finally {
    await Promise.all(sims.map((s) => s.close()));
    await hub.close();
  }
}
