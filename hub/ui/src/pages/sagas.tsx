/**
 * Sagas (`#/sagas`, `sagas:read`): the business processes by state and type, newest first; one
 * saga with every attempt of its steps and compensations and their timings; retry a failed one,
 * abort a running one (`sagas:write`: the hub compensates what was done).
 */

import { ErrorNotice, Notice } from "@steinmetz/ui-kit/form.js";
import { formatDateTime, formatNumber } from "@steinmetz/ui-kit/format.js";
import { TableHead } from "@steinmetz/ui-kit/table.js";
import { useEffect, useState } from "preact/hooks";
import { call, get } from "../api.js";
import { describeError } from "../errors.js";
import { allows } from "../grants.js";
import { lang, t } from "../i18n.js";

interface Saga {
  id: string;
  type: string;
  key: string;
  state: string;
  position: number;
  error: unknown;
  startedBy: string;
  createdAt: string;
  endedAt: string | null;
}
interface Step {
  position: number;
  step: string;
  phase: string;
  attempt: number;
  outcome: string;
  error: unknown;
  startedAt: string;
  ms: number;
}

const STATES = ["running", "compensating", "waiting", "completed", "compensated", "failed"] as const;

function SagaDetail({ id, onChanged }: { id: string; onChanged: () => void }) {
  const [saga, setSaga] = useState<(Saga & { steps: Step[] }) | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const load = () => get<Saga & { steps: Step[] }>(`/sagas/${id}`).then(setSaga).catch(setError);
  useEffect(() => {
    void load();
  }, [id]);
  const act = async (what: "retry" | "abort") => {
    setError(null);
    try {
      await call(`/sagas/${id}/${what}`, { method: "POST" });
      setNotice(what === "retry" ? t("sagaRetried") : t("sagaAborted"));
      await load();
      onChanged();
    } catch (err) {
      setError(err);
    }
  };
  if (!saga) return error ? <ErrorNotice {...describeError(error)} othersLabel={t("otherProblems")} /> : null;
  const l = lang.get();
  const canWrite = allows("sagas:write");
  return (
    <section class="saga-detail card" aria-labelledby="saga-title" data-testid="saga-detail">
      <h2 id="saga-title">
        {saga.type} · {saga.key}
      </h2>
      {error ? <ErrorNotice {...describeError(error)} othersLabel={t("otherProblems")} /> : null}
      {notice && <Notice kind="success">{notice}</Notice>}
      <p>
        {t(`saga_${saga.state}` as "saga_running")} ·{" "}
        {t("startedBy", { who: saga.startedBy, at: formatDateTime(l, saga.createdAt) })}
      </p>
      {saga.error ? <pre class="detail">{JSON.stringify(saga.error, null, 2)}</pre> : null}
      {canWrite && (
        <div class="actions">
          {saga.state === "failed" && (
            <button type="button" onClick={() => act("retry")} data-testid="saga-retry">
              {t("retry")}
            </button>
          )}
          {(saga.state === "running" || saga.state === "waiting") && (
            <button type="button" class="danger" onClick={() => act("abort")} data-testid="saga-abort">
              {t("abort")}
            </button>
          )}
        </div>
      )}
      <div class="table-wrap">
        <table data-testid="saga-steps">
          <TableHead columns={["#", t("step"), t("phase"), t("attempt"), t("outcome"), t("startedAt"), "ms"]} />
          <tbody>
            {saga.steps.map((s, i) => (
              <tr key={i} data-outcome={s.outcome}>
                <td>{s.position + 1}</td>
                <td>{s.step}</td>
                <td>{s.phase === "compensation" ? t("compensation") : t("action")}</td>
                <td>{s.attempt}</td>
                <td>{s.outcome}</td>
                <td>{formatDateTime(l, s.startedAt)}</td>
                <td class="num">{formatNumber(l, s.ms, 0)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

export function SagasPage() {
  const [state, setState] = useState("");
  const [items, setItems] = useState<Saga[] | null>(null);
  const [open, setOpen] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const load = () =>
    get<{ items: Saga[] }>(`/sagas?limit=100${state ? `&state=${state}` : ""}`)
      .then((r) => setItems(r.items))
      .catch(setError);
  useEffect(() => {
    void load();
  }, [state]);
  const l = lang.get();
  return (
    <section aria-labelledby="sagas-title">
      <h1 id="sagas-title">{t("sagas")}</h1>
      {error ? <ErrorNotice {...describeError(error)} othersLabel={t("otherProblems")} /> : null}
      <div class="filters">
        <div class="field">
          <label for="saga-state">{t("status")}</label>
          <select
            id="saga-state"
            value={state}
            onChange={(e) => setState(e.currentTarget.value)}
            data-testid="saga-state"
          >
            <option value="">{t("all")}</option>
            {STATES.map((s) => (
              <option key={s} value={s}>
                {t(`saga_${s}` as "saga_running")}
              </option>
            ))}
          </select>
        </div>
      </div>
      {open && <SagaDetail key={open} id={open} onChanged={() => void load()} />}
      <div class="table-wrap">
        <table data-testid="sagas">
          <TableHead columns={[t("process"), t("key"), t("status"), t("startedAt"), t("endedAt")]} />
          <tbody>
            {items?.map((s) => (
              <tr key={s.id} data-id={s.id} data-state={s.state}>
                <td>
                  <button type="button" class="link" onClick={() => setOpen(s.id)}>
                    {s.type}
                  </button>
                </td>
                <td>{s.key}</td>
                <td>{t(`saga_${s.state}` as "saga_running")}</td>
                <td>{formatDateTime(l, s.createdAt)}</td>
                <td>{s.endedAt ? formatDateTime(l, s.endedAt) : "–"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
