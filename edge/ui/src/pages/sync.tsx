/** Buffer and sync with the hub ("Datenübertragung") and the commands from the hub, refreshed every 2 s. */

import { ErrorBox } from "../components/form.js";
import { formatBytes, formatDateTime, formatDuration, formatNumber, formatRelative, plainValue } from "../format.js";
import { useNow, usePoll } from "../hooks.js";
import { errorText, t, tx } from "../i18n.js";
import type { EdgeStatus } from "../types.js";

function bytesOf(v: unknown): string {
  return typeof v === "number" ? formatBytes(v) : typeof v === "string" ? v : "–";
}

/** The sync page. */
export function SyncPage() {
  const { data, error } = usePoll<EdgeStatus>("/api/v1/status", 2000);
  const now = useNow(2000);
  if (!data) {
    return (
      <>
        <h1>{t("syncTitle")}</h1>
        <ErrorBox error={error} />
        {!error && <p aria-busy="true">{t("loading")}</p>}
      </>
    );
  }
  const { sync, buffer } = data;
  const configured = sync.enabled !== false && !!sync.hubUrl;
  const stateText = !configured ? t("notConfigured") : sync.connected ? t("connected") : t("notConnected");
  const stateClass = !configured ? "status-unknown" : sync.connected ? "status-ok" : "status-fault";
  const limits = buffer.limits ?? {};
  const gaps = data.gaps ?? [];
  const commands = data.commands ?? { recent: [], hubLimits: [], conflicts: [] };
  return (
    <>
      <h1>{t("syncTitle")}</h1>
      <ErrorBox error={error} />
      <div class="grid-2">
        <section class="card" aria-labelledby="sync-hub">
          <h2 id="sync-hub">{t("hubConnection")}</h2>
          <p>
            <span
              class={`badge ${stateClass}`}
              data-testid="sync-connected"
              data-connected={String(sync.connected)}
              data-configured={String(configured)}
            >
              {stateText}
            </span>
          </p>
          <dl class="facts">
            <dt>{t("hubAddress")}</dt>
            <dd data-testid="sync-hub-url">{sync.hubUrl || "–"}</dd>
            <dt>{t("lastAck")}</dt>
            <dd data-testid="sync-last-ack">
              {sync.lastAckAt === null ? (
                t("never")
              ) : (
                <>
                  {formatRelative(sync.lastAckAt, now)}
                  <br />
                  <span class="muted">{formatDateTime(sync.lastAckAt)}</span>
                </>
              )}
            </dd>
            <dt>{t("acked")}</dt>
            <dd class="num" data-testid="sync-committed">
              {sync.hubCommittedSeq}
            </dd>
            <dt>{t("nextSeq")}</dt>
            <dd class="num" data-testid="sync-next-seq">
              {buffer.nextSeq}
            </dd>
            <dt>{t("sendRate")}</dt>
            <dd>
              <span data-testid="sync-rate" class="num">
                {plainValue(Math.round((sync.sendRate ?? 0) * 10) / 10)}
              </span>{" "}
              {t("valuesPerSecond")}
            </dd>
            <dt>{t("reconnects")}</dt>
            <dd>{formatNumber(sync.reconnects, 0)}</dd>
            <dt>{t("inflight")}</dt>
            <dd>{sync.inflightBatches}</dd>
            <dt>{t("backfill")}</dt>
            <dd>
              {sync.backfillBelow === null
                ? t("backfillOff")
                : `< ${sync.backfillBelow} (${formatNumber(sync.backfillBatchSize, 0)})`}
            </dd>
            {sync.lastError && (
              <>
                <dt>{t("lastError")}</dt>
                <dd class="error-text" data-testid="sync-last-error" data-code={sync.lastError.code}>
                  <strong>{errorText(sync.lastError.code)}</strong>
                  <br />
                  <span class="detail">{sync.lastError.message}</span>
                </dd>
              </>
            )}
          </dl>
        </section>
        <section class="card" aria-labelledby="sync-buffer">
          <h2 id="sync-buffer">{t("bufferDepth")}</h2>
          <p class="big-number">
            <span data-testid="sync-depth">{buffer.depth}</span>
          </p>
          <dl class="facts">
            <dt>{t("oldestUnacked")}</dt>
            <dd data-testid="sync-oldest">{buffer.oldestAgeMs === null ? "–" : formatDuration(buffer.oldestAgeMs)}</dd>
            <dt>{t("bufferBytes")}</dt>
            <dd>{formatBytes(buffer.bytes)}</dd>
            <dt>{t("limits")}</dt>
            <dd>
              {t("maxRows")} {limits.maxRows === undefined ? "–" : formatNumber(limits.maxRows, 0)} · {t("maxBytes")}{" "}
              {bytesOf(limits.maxBytes)} · {t("ttl")} {limits.ttlMs === undefined ? "–" : formatDuration(limits.ttlMs)}{" "}
              · {t("minFree")} {bytesOf(limits.minFreeBytes)}
              {limits.policy ? ` · ${limits.policy}` : ""}
            </dd>
            <dt>{t("evicted")}</dt>
            <dd>
              <ul class="plain" data-testid="sync-evicted">
                {Object.entries(buffer.evicted).map(([reason, n]) => (
                  <li key={reason} data-reason={reason} class={n > 0 ? "warn-text" : undefined}>
                    {tx(`ev.${reason}`, reason)}: {formatNumber(n, 0)}
                  </li>
                ))}
              </ul>
            </dd>
            <dt>{t("pendingGaps")}</dt>
            <dd>{buffer.pendingGaps}</dd>
          </dl>
        </section>
      </div>
      <section class="card" aria-labelledby="sync-gaps">
        <h2 id="sync-gaps">{t("gaps")}</h2>
        {gaps.length === 0 ? (
          <p>{t("noGaps")}</p>
        ) : (
          <div class="table-scroll">
            <table data-testid="sync-gaps">
              <thead>
                <tr>
                  <th scope="col" class="num">
                    {t("gapFrom")}
                  </th>
                  <th scope="col" class="num">
                    {t("gapTo")}
                  </th>
                  <th scope="col">{t("gapReason")}</th>
                  <th scope="col">{t("gapReported")}</th>
                </tr>
              </thead>
              <tbody>
                {gaps.map((g) => (
                  <tr key={`${g.from}-${g.to}`}>
                    <td class="num">{g.from}</td>
                    <td class="num">{g.to}</td>
                    <td>{tx(`ev.${g.reason}`, g.reason)}</td>
                    <td>{g.reported ? t("yes") : t("no")}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
      <section class="card" aria-labelledby="sync-commands">
        <h2 id="sync-commands">{t("hubCommands")}</h2>
        {commands.hubLimits.length > 0 && (
          <p class="warn-text" data-testid="hub-limits">
            {t("hubLimitsHeld")}:{" "}
            {commands.hubLimits
              .map(
                (l) =>
                  `${l.deviceId} ${plainValue(l.limitPct)} %${l.until === null ? "" : ` ${t("hubLimitUntil")} ${formatDateTime(l.until)}`}`,
              )
              .join(" · ")}
          </p>
        )}
        {commands.recent.length === 0 ? (
          <p>{t("noHubCommands")}</p>
        ) : (
          <div class="table-scroll">
            <table data-testid="hub-commands">
              <thead>
                <tr>
                  <th scope="col">{t("commandReceived")}</th>
                  <th scope="col">{t("commandType")}</th>
                  <th scope="col">{t("commandState")}</th>
                  <th scope="col">{t("commandDetail")}</th>
                </tr>
              </thead>
              <tbody>
                {commands.recent.map((c) => (
                  <tr key={c.id} data-command={c.id} data-state={c.state}>
                    <td>{formatDateTime(c.receivedAt)}</td>
                    <td>{tx(`cmd.${c.type}`, c.type)}</td>
                    <td class={c.state === "succeeded" ? undefined : c.state === "received" ? "muted" : "warn-text"}>
                      {tx(`cmdState.${c.state}`, c.state)}
                    </td>
                    <td class="detail">{c.detail}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        {commands.conflicts.length > 0 && (
          <>
            <h3>{t("hubLimitConflicts")}</h3>
            <ul class="plain" data-testid="hub-limit-conflicts">
              {commands.conflicts.map((c) => (
                <li key={`${c.at}-${c.deviceId}-${c.point}`}>
                  {formatDateTime(c.at)}: {c.source} → {c.deviceId}/{c.point} = {plainValue(c.value)} (
                  {t("hubLimitsHeld")} {plainValue(c.limitPct)} %)
                </li>
              ))}
            </ul>
          </>
        )}
      </section>
    </>
  );
}
