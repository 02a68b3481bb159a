/**
 * Commands to edges (`#/commands`, `commands:read`): pick an edge, see its commands with their
 * state and history; send one (`commands:write`): a power limit or its release (held for a second
 * person's approval), or a diagnostics request.
 */

import { ErrorNotice, Field, Notice, Select } from "@steinmetz/ui-kit/form.js";
import { formatDateTime } from "@steinmetz/ui-kit/format.js";
import { TableHead } from "@steinmetz/ui-kit/table.js";
import { useEffect, useState } from "preact/hooks";
import { call, get } from "../api.js";
import { describeError } from "../errors.js";
import { allows } from "../grants.js";
import { lang, t } from "../i18n.js";

interface Edge {
  edgeId: string;
  lastSeenAt: string;
}
interface Command {
  id: string;
  type: string;
  state: string;
  payload: Record<string, unknown>;
  requestedByName: string | null;
  detail: string | null;
  createdAt: string;
  history: { state: string; at: string; detail: string | null }[];
}

const TYPES = ["power_limit", "power_limit_release", "diagnostics"] as const;

function SendCommand({ edgeId, onSent }: { edgeId: string; onSent: (text: string) => void }) {
  const [type, setType] = useState<(typeof TYPES)[number]>("power_limit");
  const [limit, setLimit] = useState("50");
  const [revertMin, setRevertMin] = useState("60");
  const [error, setError] = useState<unknown>(null);
  const pct = Number(limit.replace(",", "."));
  const minutes = Number(revertMin);
  const badLimit = !(Number.isFinite(pct) && pct >= 0 && pct <= 100);
  const badRevert = !(Number.isInteger(minutes) && minutes >= 1 && minutes <= 1440);
  const invalid = type === "power_limit" && (badLimit || badRevert);
  return (
    <form
      class="card send-command"
      onSubmit={async (e) => {
        e.preventDefault();
        if (invalid) return;
        setError(null);
        try {
          const res = await call<{ state?: string; approval?: unknown }>(`/edges/${edgeId}/commands`, {
            method: "POST",
            body: type === "power_limit" ? { type, limitPct: pct, revertTimeoutS: minutes * 60 } : { type },
          });
          onSent(res.body?.approval || res.body?.state === "pending_approval" ? t("commandHeld") : t("commandQueued"));
        } catch (err) {
          setError(err);
        }
      }}
    >
      <h2>{t("sendCommand")}</h2>
      {error ? <ErrorNotice {...describeError(error)} othersLabel={t("otherProblems")} /> : null}
      <Select
        id="command-type"
        label={t("commandType")}
        value={type}
        onValue={(v) => setType(v as (typeof TYPES)[number])}
        options={TYPES.map((x) => ({ value: x, label: t(`cmd_${x}` as "cmd_power_limit") }))}
        testId="command-type"
      />
      {type === "power_limit" && (
        <Field
          id="command-limit"
          label={t("limitPct")}
          value={limit}
          onValue={setLimit}
          inputMode="numeric"
          error={badLimit ? t("tooLarge", { n: 100 }) : undefined}
          testId="command-limit"
        />
      )}
      {type === "power_limit" && (
        <Field
          id="command-revert"
          label={t("revertAfter")}
          hint={t("revertHint")}
          value={revertMin}
          onValue={setRevertMin}
          inputMode="numeric"
          error={badRevert ? t("tooLarge", { n: 1440 }) : undefined}
        />
      )}
      <button type="submit" data-testid="send-command">
        {t("send")}
      </button>
    </form>
  );
}

export function CommandsPage() {
  const [edges, setEdges] = useState<Edge[]>([]);
  const [edgeId, setEdgeId] = useState("");
  const [commands, setCommands] = useState<Command[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);
  useEffect(() => {
    get<Edge[]>("/edges")
      .then((list) => {
        setEdges(list);
        setEdgeId((current) => current || list[0]?.edgeId || "");
      })
      .catch(setError);
  }, []);
  const load = () =>
    edgeId
      ? get<{ items: Command[] }>(`/edges/${edgeId}/commands?limit=100`)
          .then((r) => setCommands(r.items))
          .catch(setError)
      : Promise.resolve();
  useEffect(() => {
    void load();
  }, [edgeId]);
  const l = lang.get();
  return (
    <section aria-labelledby="commands-title">
      <h1 id="commands-title">{t("commands")}</h1>
      {error ? <ErrorNotice {...describeError(error)} othersLabel={t("otherProblems")} /> : null}
      {notice && <Notice kind="success">{notice}</Notice>}
      {edges.length === 0 && <p>{t("noEdges")}</p>}
      {edges.length > 0 && (
        <Select
          id="command-edge"
          label={t("edge")}
          value={edgeId}
          onValue={setEdgeId}
          options={edges.map((e) => ({ value: e.edgeId, label: `${e.edgeId} (${formatDateTime(l, e.lastSeenAt)})` }))}
          testId="command-edge"
        />
      )}
      {edgeId && allows("commands:write") && (
        <SendCommand
          edgeId={edgeId}
          onSent={(text) => {
            setNotice(text);
            void load();
          }}
        />
      )}
      <div class="table-wrap">
        <table data-testid="commands">
          <TableHead columns={[t("commandType"), t("status"), t("requestedAt"), t("actor"), t("history")]} />
          <tbody>
            {commands?.map((c) => (
              <tr key={c.id} data-type={c.type} data-state={c.state}>
                <td>
                  {t(`cmd_${c.type}` as "cmd_power_limit")}
                  {typeof c.payload.limitPct === "number" ? ` ${c.payload.limitPct} %` : ""}
                </td>
                <td>{t(`cmdstate_${c.state}` as "cmdstate_queued")}</td>
                <td>{formatDateTime(l, c.createdAt)}</td>
                <td>{c.requestedByName ?? "–"}</td>
                <td>
                  {c.history
                    .map((h) => `${t(`cmdstate_${h.state}` as "cmdstate_queued")} ${formatDateTime(l, h.at)}`)
                    .join(" → ")}
                  {c.detail && <div class="muted">{c.detail}</div>}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
