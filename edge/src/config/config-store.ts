import { mkdirSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import type { Logger } from "pino";
import { parse, stringify } from "yaml";
import { writeFileAtomic } from "../atomic-file.js";
import { EdgeError } from "../errors.js";
import type { AppliedChange, ConfigControl, ConfigVersionInfo } from "../http/deps.js";
import type { ProfileDirs } from "../profile/load-profile.js";
import { checkSite, type LoadedSite } from "./load-site.js";

/** Versions kept in the history by default; older ones are dropped. */
export const CONFIG_VERSIONS_KEPT = 200;

/** Where the configuration lives and what applying one does. */
export interface ConfigStoreOptions {
  /** The active site file (`--config`). It may not exist yet (a fresh appliance). */
  file: string;
  /** Holds one YAML file per version (`000001.yaml`) and `index.json`. */
  historyDir: string;
  log: Logger;
  /**
   * Applies a checked configuration to the running agent; called after the file and the history
   * were written, one at a time.
   */
  apply: (site: LoadedSite, info: ConfigVersionInfo) => Promise<AppliedChange>;
  /**
   * The configuration the caller already runs (library callers and tests that pass `site`): the
   * file is rewritten with it when it does not hold the same configuration.
   */
  site?: LoadedSite;
  dirs?: ProfileDirs;
  /** Versions kept (default 200). */
  maxVersions?: number;
  now?: () => Date;
}

/** `index.json` of the history directory. */
interface HistoryIndex {
  /** The highest version number ever handed out (numbers are never reused, also after dropping old ones). */
  lastVersion: number;
  /** Kept versions, oldest first. */
  versions: ConfigVersionInfo[];
}

/** The configuration in force: its version, stored text and checked form. */
interface Active {
  version: number;
  text: string;
  site: LoadedSite;
}

const INDEX = "index.json";
const versionFile = (version: number) => `${String(version).padStart(6, "0")}.yaml`;

/**
 * The site configuration as a versioned document. The active file (`--config`) is what the agent
 * runs; every change is checked like the file itself (`checkSite`), written atomically (temp file,
 * fsync, rename, fsync of the directory; mode 0600 since it may hold MQTT passwords), recorded
 * in the history directory and then handed to `apply`. Changes run one at a time; a change that
 * fails its checks (or names a stale base version) leaves file, history and agent untouched.
 *
 * At open, a file whose text differs from the newest version in the history (or any file when
 * there is no history) is recorded as a new version by author "file".
 */
export class ConfigStore implements ConfigControl {
  private active: Active | null;
  private readonly index: HistoryIndex;
  private tail: Promise<unknown> = Promise.resolve();
  private readonly maxVersions: number;
  private readonly now: () => Date;

  private constructor(private readonly options: ConfigStoreOptions) {
    this.maxVersions = options.maxVersions ?? CONFIG_VERSIONS_KEPT;
    this.now = options.now ?? (() => new Date());
    mkdirSync(options.historyDir, { recursive: true, mode: 0o700 });
    this.removeTempFiles();
    this.index = this.readIndex();
    this.active = this.readActive();
  }

  /**
   * Opens the store: reads and checks the active file (throws `EDGE_ERR_CONFIG_INVALID` naming
   * every problem, or `EDGE_ERR_CONFIG_READ`), and records it in the history when it is new.
   */
  static open(options: ConfigStoreOptions): ConfigStore {
    return new ConfigStore(options);
  }

  /** The checked configuration in force; null on a fresh appliance. */
  site(): LoadedSite | null {
    return this.active?.site ?? null;
  }

  current(): { version: number; config: unknown } {
    return this.active
      ? { version: this.active.version, config: parse(this.active.text) }
      : { version: 0, config: null };
  }

  apply(
    config: unknown,
    options: { baseVersion?: number; author: string; comment?: string },
  ): Promise<ConfigVersionInfo & { applied: AppliedChange }> {
    return this.serial(() => this.write(config, stringify(config), { comment: "", ...options }));
  }

  versions(): ConfigVersionInfo[] {
    return this.index.versions.map((v) => ({ ...v })).reverse();
  }

  version(version: number): ConfigVersionInfo & { yaml: string } {
    const info = this.index.versions.find((v) => v.version === version);
    if (!info) throw new EdgeError("EDGE_ERR_NOT_FOUND", `no configuration version ${version}`);
    return { ...info, yaml: readFileSync(join(this.options.historyDir, versionFile(version)), "utf8") };
  }

  rollback(version: number, author: string): Promise<ConfigVersionInfo & { applied: AppliedChange }> {
    return this.serial(async () => {
      const { yaml } = this.version(version);
      return this.write(parse(yaml), yaml, { author, comment: `rollback to version ${version}` });
    });
  }

  /** Resolves once every change queued so far has finished (the agent waits for it before closing). */
  async settled(): Promise<void> {
    await this.tail.catch(() => undefined);
  }

  /** Checks, writes, records and applies one configuration (inside the queue). */
  private async write(
    data: unknown,
    text: string,
    options: { baseVersion?: number; author: string; comment: string },
  ): Promise<ConfigVersionInfo & { applied: AppliedChange }> {
    const currentVersion = this.active?.version ?? 0;
    if (options.baseVersion !== undefined && options.baseVersion !== currentVersion) {
      throw new EdgeError(
        "EDGE_ERR_CONFIG_CONFLICT",
        `the configuration is at version ${currentVersion}, the change was made to version ${options.baseVersion}`,
      );
    }
    const site = checkSite(this.options.file, data, this.options.dirs);
    mkdirSync(dirname(this.options.file), { recursive: true });
    writeFileAtomic(this.options.file, text, 0o600);
    const info = this.record(text, options.author, options.comment);
    this.active = { version: info.version, text, site };
    const applied = await this.options.apply(site, info);
    return { ...info, applied };
  }

  /** Adds a version to the history: its YAML first, then the index (both atomic); drops the oldest beyond the cap. */
  private record(text: string, author: string, comment: string): ConfigVersionInfo {
    const version = this.index.lastVersion + 1;
    writeFileAtomic(join(this.options.historyDir, versionFile(version)), text, 0o600);
    const info: ConfigVersionInfo = { version, at: this.now().toISOString(), author, comment };
    this.index.lastVersion = version;
    this.index.versions.push(info);
    const dropped = this.index.versions.splice(0, Math.max(0, this.index.versions.length - this.maxVersions));
    writeFileAtomic(join(this.options.historyDir, INDEX), `${JSON.stringify(this.index, null, 2)}\n`, 0o600);
    for (const old of dropped) rmSync(join(this.options.historyDir, versionFile(old.version)), { force: true });
    return info;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn);
    this.tail = result.catch(() => undefined);
    return result;
  }

  /** Reads the active file (or takes the caller's site) and records it when it is not the newest version. */
  private readActive(): Active | null {
    const { file, site: given, dirs } = this.options;
    let text: string | null;
    try {
      text = readFileSync(file, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") {
        throw new EdgeError(
          "EDGE_ERR_CONFIG_READ",
          `cannot read site configuration ${file}: ${(err as Error).message}`,
          {
            cause: err,
          },
        );
      }
      text = null;
    }
    // An empty file counts as none: the appliance is not configured yet.
    if (text !== null && text.trim() === "") text = null;
    let site: LoadedSite | null = null;
    if (text !== null) {
      let data: unknown;
      try {
        data = parse(text);
      } catch (err) {
        if (!given) {
          throw new EdgeError("EDGE_ERR_CONFIG_INVALID", `${file}: /: not valid YAML: ${(err as Error).message}`, {
            cause: err,
          });
        }
      }
      if (!given) site = checkSite(file, data, dirs);
      else if (isDeepStrictEqual(safeCheck(file, data, dirs)?.config, given.config)) site = given;
    }
    if (given && site === null) {
      // The caller runs another configuration than the file holds: the file follows it.
      text = stringify(given.config);
      mkdirSync(dirname(file), { recursive: true });
      writeFileAtomic(file, text, 0o600);
      site = given;
    }
    if (text === null || site === null) return null;
    const newest = this.index.versions.at(-1);
    if (newest && this.readVersionText(newest.version) === text) return { version: newest.version, text, site };
    const info = this.record(text, "file", given ? "configuration the agent was started with" : `found in ${file}`);
    this.options.log.info({ version: info.version, file }, "site configuration recorded as a new version");
    return { version: info.version, text, site };
  }

  private readVersionText(version: number): string | null {
    try {
      return readFileSync(join(this.options.historyDir, versionFile(version)), "utf8");
    } catch {
      return null;
    }
  }

  /**
   * Reads `index.json`. Without one (first start, or lost) the versions are rebuilt from the
   * YAML files present; the next number is above every file found either way.
   */
  private readIndex(): HistoryIndex {
    const { historyDir, log } = this.options;
    const files = readdirSync(historyDir)
      .map((name) => /^(\d{6,})\.yaml$/.exec(name))
      .filter((m) => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
    const highestFile = files.at(-1) ?? 0;
    try {
      const index = JSON.parse(readFileSync(join(historyDir, INDEX), "utf8")) as HistoryIndex;
      if (!Number.isSafeInteger(index.lastVersion) || !Array.isArray(index.versions)) throw new Error("not an index");
      return { lastVersion: Math.max(index.lastVersion, highestFile), versions: index.versions };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") {
        log.error({ err, dir: historyDir }, "configuration history index unreadable; rebuilt from the version files");
      }
      const versions = files.map((version) => ({
        version,
        at: statSync(join(historyDir, versionFile(version))).mtime.toISOString(),
        author: "unknown",
        comment: "",
      }));
      return { lastVersion: highestFile, versions };
    }
  }

  /** Leftovers of writes a crash interrupted. */
  private removeTempFiles(): void {
    for (const name of readdirSync(this.options.historyDir)) {
      if (name.includes(".tmp-")) rmSync(join(this.options.historyDir, name), { force: true });
    }
  }
}

function safeCheck(file: string, data: unknown, dirs?: ProfileDirs): LoadedSite | null {
  try {
    return checkSite(file, data, dirs);
  } catch {
    return null;
  }
}
