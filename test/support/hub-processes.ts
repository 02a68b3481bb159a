/**
 * Hub processes for crash tests: each a real `node --import tsx hub/src/main.ts` OS process on a
 * shared database and data directory (so they share the PKI), started, SIGKILLed, SIGSTOPped and
 * restarted at will. Every child is killed when the test process ends, whatever happens.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { REPO } from "./harness.js";

/** One hub OS process. */
export interface HubProcess {
  /** A name for messages (`hub-2#5`: the second slot, fifth start). */
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  /** Its saga coordinator's id (`saga.processes.id`), from its start log. */
  readonly processId: string;
  /** When it had logged "hub started" and its coordinator's start (ms since the epoch). */
  readonly startedAt: number;
  /** Resolves with the exit code or signal once the process is gone. */
  readonly exit: Promise<string>;
  /** The last lines it logged (for diagnostics). */
  tail(): string[];
}

/** An exit nobody asked for (no signal sent by the test) of a hub that had started. */
export interface UnexpectedExit {
  name: string;
  how: string;
  tail: string[];
}

const live = new Set<ChildProcess>();
const killLive = () => {
  for (const child of live) child.kill("SIGKILL");
};
// the last resort, should the test process end without its teardown (an exception, a signal)
process.once("exit", killLive);
for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) {
  process.once(signal, () => {
    killLive();
    // nobody else ends the process on this signal: end it as the default would
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  });
}

/** Starts and tracks the hub processes of one test: same database, same data directory. */
export class HubProcesses {
  readonly unexpectedExits: UnexpectedExit[] = [];
  /** Starts that ended before "hub started" (e.g. while PostgreSQL was away). */
  readonly failedStarts: UnexpectedExit[] = [];
  /** Warnings and errors the hubs logged, counted by level and message. */
  readonly warnings = new Map<string, number>();
  /** How long each successful start took (ms). */
  readonly startDurations: number[] = [];
  private readonly all = new Set<HubProcess>();
  private readonly signalled = new WeakSet<ChildProcess>();
  private starts = 0;

  constructor(
    private readonly options: {
      databaseUrl: string;
      dataDir: string;
      /** More environment for every hub (e.g. HUB_SAGA_LEASE_MS). */
      env?: Record<string, string>;
      /** How long a start may take (default 60 s). */
      startTimeoutMs?: number;
    },
  ) {}

  /** Starts a hub (with `env` besides the common one) and resolves once it logged "hub started". */
  async start(slot: string, env: Record<string, string> = {}): Promise<HubProcess> {
    const name = `${slot}#${++this.starts}`;
    const child = spawn(process.execPath, ["--import", "tsx", join(REPO, "hub/src/main.ts"), "--insecure-dev"], {
      cwd: REPO,
      env: {
        ...process.env,
        DATABASE_URL: this.options.databaseUrl,
        HUB_DATA_DIR: this.options.dataDir,
        HUB_HTTP_PORT: "0",
        HUB_GRPC_PORT: "0",
        LOG_LEVEL: "info",
        ...this.options.env,
        ...env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    live.add(child);
    const lines: string[] = [];
    let ready = false;
    const begun = Date.now();
    const remember = (line: string) => {
      lines.push(line.length > 2000 ? `${line.slice(0, 2000)}…` : line);
      if (lines.length > 40) lines.shift();
      const level = /"level":(\d+)/.exec(line)?.[1];
      if (level && Number(level) >= 40) {
        const msg = /"msg":"((?:[^"\\]|\\.)*)"/.exec(line)?.[1] ?? line.slice(0, 100);
        const key = `${Number(level) >= 50 ? "error" : "warn"}: ${msg}`;
        this.warnings.set(key, (this.warnings.get(key) ?? 0) + 1);
      }
    };
    const exit = new Promise<string>((resolve) => {
      child.once("exit", (code, signal) => {
        live.delete(child);
        const how = signal ?? `code ${code}`;
        if (!ready) this.failedStarts.push({ name, how, tail: [...lines] });
        else if (!this.signalled.has(child)) this.unexpectedExits.push({ name, how, tail: [...lines] });
        resolve(how);
      });
    });
    createInterface({ input: child.stderr as NodeJS.ReadableStream }).on("line", remember);
    const started = new Promise<{ processId: string; at: number }>((resolve, reject) => {
      let processId: string | undefined;
      const timer = setTimeout(
        () => reject(new Error(`${name} did not start in time`)),
        this.options.startTimeoutMs ?? 60_000,
      );
      // the hub starts its coordinator in the background: the two lines come in either order
      let hubStarted = false;
      createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
        remember(line);
        if (line.includes('"saga coordinator started"')) processId = (JSON.parse(line) as { process: string }).process;
        if (line.includes('"msg":"hub started"')) hubStarted = true;
        if (hubStarted && processId && !ready) {
          clearTimeout(timer);
          ready = true;
          resolve({ processId, at: Date.now() });
        }
      });
      void exit.then((how) => {
        clearTimeout(timer);
        reject(new Error(`${name} exited (${how}) before it started:\n${lines.join("\n")}`));
      });
    });
    try {
      const { processId, at } = await started;
      this.startDurations.push(at - begun);
      const hub: HubProcess = {
        name,
        child,
        pid: child.pid as number,
        processId,
        startedAt: at,
        exit,
        tail: () => [...lines],
      };
      this.all.add(hub);
      return hub;
    } catch (err) {
      this.signal(child, "SIGKILL");
      await exit;
      throw err;
    }
  }

  /** Sends `signal`; an exit after it is an expected one. */
  signal(target: HubProcess | ChildProcess, signal: NodeJS.Signals): void {
    const child = "child" in target ? target.child : target;
    this.signalled.add(child);
    child.kill(signal);
  }

  /** SIGKILLs a hub and resolves once it is gone. */
  async kill(hub: HubProcess): Promise<void> {
    this.signal(hub, "SIGKILL");
    await hub.exit;
  }

  /** The warnings and errors logged, most frequent first. */
  warningDigest(limit = 6): string {
    const top = [...this.warnings.entries()].sort((a, b) => b[1] - a[1]).slice(0, limit);
    return top.length ? top.map(([msg, n]) => `${n}× ${msg}`).join("; ") : "none";
  }

  /** SIGKILLs every hub still running (stopped ones too) and waits for them to be gone. */
  async killAll(): Promise<void> {
    const running = [...this.all].filter((h) => h.child.exitCode === null && h.child.signalCode === null);
    for (const hub of running) this.signal(hub, "SIGKILL");
    await Promise.all(running.map((h) => h.exit));
  }
}
