/**
 * The data pages (loaded on demand): the data-quality report per dataset and day, the catalog
 * browser (datasets, columns, classification, owner, freshness, last quality), the warehouse runs
 * with their lineage, and the audit trail with the check of its hash chain.
 */

import { ErrorNotice, Notice } from "@steinmetz/ui-kit/form.js";
import { formatDateTime, formatNumber } from "@steinmetz/ui-kit/format.js";
import { TableHead } from "@steinmetz/ui-kit/table.js";
import { useEffect, useState } from "preact/hooks";
import { get } from "../api.js";
import { describeError } from "../errors.js";
import { lang, t } from "../i18n.js";
import { navigate } from "../router.js";

/** Loads `path` whenever it changes: the data, or the error. */
function useData<T>(path: string): { data: T | null; error: unknown } {
  const [state, setState] = useState<{ data: T | null; error: unknown }>({ data: null, error: null });
  useEffect(() => {
    const abort = new AbortController();
    setState({ data: null, error: null });
    get<T>(path, abort.signal)
      .then((data) => setState({ data, error: null }))
      .catch((error) => abort.signal.aborted || setState({ data: null, error }));
    return () => abort.abort();
  }, [path]);
  return state;
}

const Problem = ({ error }: { error: unknown }) =>
  error ? <ErrorNotice {...describeError(error)} othersLabel={t("otherProblems")} /> : null;
const pct = (v: unknown) => (typeof v === "number" ? `${formatNumber(lang.get(), v * 100, 2)} %` : "–");
const when = (v: unknown) => (typeof v === "string" ? formatDateTime(lang.get(), v) : "–");

interface QualityDay {
  dataset: string;
  rulesChecked: number;
  rulesPassed: number;
  rulesFailed: number;
  worstFailureShare: number | null;
  failedRules: { rule: string; severity: string; failedChecks: number; worstFailureShare: number | null }[];
}

function QualityPage({ query }: { query: URLSearchParams }) {
  const today = new Intl.DateTimeFormat("en-CA", { timeZone: "Europe/Berlin" }).format(new Date());
  const date = query.get("date") ?? today;
  const { data, error } = useData<{ date: string; datasets: QualityDay[] }>(`/quality/report?date=${date}`);
  return (
    <section aria-labelledby="quality-title">
      <h1 id="quality-title">{t("dataQuality")}</h1>
      <div class="filters">
        <div class="field">
          <label for="quality-date">{t("day")}</label>
          <input
            id="quality-date"
            type="date"
            value={date}
            onChange={(e) => navigate(`#/data/quality?date=${e.currentTarget.value}`, true)}
          />
        </div>
      </div>
      <Problem error={error} />
      {data && data.datasets.length === 0 && <p>{t("noChecks")}</p>}
      {data && data.datasets.length > 0 && (
        <div class="table-wrap">
          <table data-testid="quality-report">
            <TableHead
              columns={[
                t("dataset"),
                t("rulesChecked"),
                t("rulesPassed"),
                t("rulesFailed"),
                t("worstShare"),
                t("failedRules"),
              ]}
            />
            <tbody>
              {data.datasets.map((d) => (
                <tr key={d.dataset} data-dataset={d.dataset} data-failed={d.rulesFailed}>
                  <th scope="row">{d.dataset}</th>
                  <td class="num">{d.rulesChecked}</td>
                  <td class="num">{d.rulesPassed}</td>
                  <td class="num">{d.rulesFailed}</td>
                  <td class="num">{pct(d.worstFailureShare)}</td>
                  <td>
                    {d.failedRules.map((r) => (
                      <span key={r.rule} class={`badge ${r.severity}`}>
                        {r.rule} ({r.severity}, {pct(r.worstFailureShare)})
                      </span>
                    ))}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

interface Dataset {
  name: string;
  layer: string;
  description: string;
  owner: string;
  classification: string;
  tags: string[];
  freshness: string | null;
  quality: { status?: string; rule?: string; checkedAt?: string } | null;
  columns: { name: string; description: string; classification: string; type: string | null }[];
}

function CatalogPage({ query }: { query: URLSearchParams }) {
  const q = query.get("q") ?? "";
  const [text, setText] = useState(q);
  const [open, setOpen] = useState<string | null>(null);
  const { data, error } = useData<{ items: Dataset[] }>(`/catalog/datasets${q ? `?q=${encodeURIComponent(q)}` : ""}`);
  return (
    <section aria-labelledby="catalog-title">
      <h1 id="catalog-title">{t("catalog")}</h1>
      <form
        class="filters"
        aria-label={t("search")}
        onSubmit={(e) => {
          e.preventDefault();
          navigate(`#/data/catalog${text.trim() ? `?q=${encodeURIComponent(text.trim())}` : ""}`, true);
        }}
      >
        <div class="field">
          <label for="catalog-q">{t("search")}</label>
          <input
            id="catalog-q"
            type="search"
            value={text}
            onInput={(e) => setText(e.currentTarget.value)}
            data-testid="catalog-q"
          />
        </div>
        <button type="submit" class="secondary">
          {t("search")}
        </button>
      </form>
      <Problem error={error} />
      <div class="table-wrap">
        <table data-testid="catalog">
          <TableHead
            columns={[t("dataset"), t("layer"), t("classification"), t("owner"), t("freshness"), t("lastQuality")]}
          />
          <tbody>
            {data?.items.flatMap((d) => [
              <tr key={d.name} data-dataset={d.name}>
                <th scope="row">
                  <button
                    type="button"
                    class="link"
                    aria-expanded={open === d.name}
                    onClick={() => setOpen(open === d.name ? null : d.name)}
                  >
                    {d.name}
                  </button>
                  <div class="muted">{d.description}</div>
                </th>
                <td>{d.layer}</td>
                <td>{d.classification}</td>
                <td>{d.owner}</td>
                <td>{when(d.freshness)}</td>
                <td>{d.quality?.status ?? "–"}</td>
              </tr>,
              open === d.name ? (
                <tr key={`${d.name}-columns`} class="columns-row">
                  <td colSpan={6}>
                    <table data-testid="catalog-columns">
                      <TableHead columns={[t("column"), t("type"), t("classification"), t("description")]} />
                      <tbody>
                        {d.columns.map((c) => (
                          <tr key={c.name} data-column={c.name} data-classification={c.classification}>
                            <td>
                              <code>{c.name}</code>
                            </td>
                            <td>{c.type ?? "–"}</td>
                            <td>{c.classification}</td>
                            <td>{c.description}</td>
                          </tr>
                        ))}
                      </tbody>
                    </table>
                    <a href={`#/data/lineage?dataset=${encodeURIComponent(d.name)}`}>{t("lineage")}</a>
                  </td>
                </tr>
              ) : null,
            ])}
          </tbody>
        </table>
      </div>
    </section>
  );
}

interface LineageRun {
  runId: string;
  job: string;
  kind: string | null;
  status: string | null;
  startedAt: string | null;
  endedAt: string | null;
  events: {
    eventType: string;
    deliveredAt: string | null;
    event: { inputs?: { namespace: string; name: string }[]; outputs?: { name: string }[] };
  }[];
}

function LineagePage({ query }: { query: URLSearchParams }) {
  const dataset = query.get("dataset");
  const { data, error } = useData<{ items: LineageRun[] }>("/lineage/runs?limit=100");
  const names = (run: LineageRun, side: "inputs" | "outputs") => [
    ...new Set(run.events.flatMap((e) => (e.event?.[side] ?? []).map((d) => d.name))),
  ];
  const runs = (data?.items ?? []).filter(
    (r) => !dataset || names(r, "outputs").includes(dataset) || names(r, "inputs").includes(dataset),
  );
  return (
    <section aria-labelledby="lineage-title">
      <h1 id="lineage-title">
        {t("lineage")}
        {dataset ? `: ${dataset}` : ""}
      </h1>
      <Problem error={error} />
      {data && runs.length === 0 && <p>{t("noRows")}</p>}
      <div class="table-wrap">
        <table data-testid="lineage">
          <TableHead columns={[t("job"), t("status"), t("startedAt"), t("inputs"), t("outputs"), t("events")]} />
          <tbody>
            {runs.map((r) => (
              <tr key={r.runId} data-job={r.job} data-status={r.status}>
                <td>{r.job}</td>
                <td>{r.status ?? "–"}</td>
                <td>{when(r.startedAt)}</td>
                <td>{names(r, "inputs").join(", ") || "–"}</td>
                <td>{names(r, "outputs").join(", ") || "–"}</td>
                <td>{r.events.map((e) => e.eventType).join(" → ")}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

interface AuditRecord {
  id: number;
  at: string;
  schema: string;
  table: string;
  entityId: string | null;
  op: string;
  actorName: string | null;
  reason: string | null;
}

function AuditPage() {
  // the last day's records, in chain order
  const [since] = useState(() => new Date(Date.now() - 86_400_000).toISOString());
  const { data, error } = useData<{ items: AuditRecord[] }>(`/audit?from=${encodeURIComponent(since)}&limit=200`);
  const [verify, setVerify] = useState<{
    ok: boolean;
    checked: number;
    broken?: { id: number; reason: string };
  } | null>(null);
  const [verifyError, setVerifyError] = useState<unknown>(null);
  return (
    <section aria-labelledby="audit-title">
      <h1 id="audit-title">{t("auditTrail")}</h1>
      <p>{t("auditSince", { at: when(since) })}</p>
      <div class="actions">
        <button
          type="button"
          onClick={() => {
            setVerify(null);
            get<typeof verify>("/audit/verify").then(setVerify).catch(setVerifyError);
          }}
          data-testid="audit-verify"
        >
          {t("verifyChain")}
        </button>
      </div>
      <Problem error={verifyError} />
      {verify && (
        <div data-testid="audit-verified" data-ok={verify.ok}>
          {verify.ok ? (
            <Notice kind="success">{t("chainIntact", { n: verify.checked })}</Notice>
          ) : (
            <ErrorNotice
              text={t("chainBroken", { id: verify.broken?.id ?? "?" })}
              detail={verify.broken?.reason ?? null}
              code="HUB_ERR_AUDIT_CHAIN_BROKEN"
              othersLabel={t("otherProblems")}
            />
          )}
        </div>
      )}
      <Problem error={error} />
      <div class="table-wrap">
        <table data-testid="audit-records">
          <TableHead columns={["#", t("time"), t("dataset"), t("record"), t("operation"), t("actor"), t("reason")]} />
          <tbody>
            {data?.items.map((r) => (
              <tr key={r.id}>
                <td class="num">{r.id}</td>
                <td>{when(r.at)}</td>
                <td>
                  {r.schema}.{r.table}
                </td>
                <td>
                  <code>{r.entityId ?? "–"}</code>
                </td>
                <td>{r.op}</td>
                <td>{r.actorName ?? "–"}</td>
                <td>{r.reason ?? "–"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

/** The data page `name` (quality, catalog, lineage, audit). */
export function DataPage({ name, query }: { name: string; query: URLSearchParams }) {
  if (name === "quality") return <QualityPage query={query} />;
  if (name === "catalog") return <CatalogPage query={query} />;
  if (name === "lineage") return <LineagePage query={query} />;
  return <AuditPage />;
}
