/**
 * The list of any entity, drawn from its declaration: quick search, filters and sort in the URL
 * (a link shows the same rows), pages by cursor, a choice of columns kept per user and entity,
 * row selection with bulk actions (export, workflow transition) and a CSV export of the filter.
 */
import { excelCsv } from "@steinmetz/ui-kit/csv.js";
import { saveFile } from "@steinmetz/ui-kit/file.js";
import { ErrorNotice } from "@steinmetz/ui-kit/form.js";
import { useEffect, useMemo, useState } from "preact/hooks";
import { call, get } from "../api.js";
import { describeError } from "../errors.js";
import { display } from "../fields.js";
import { label, t } from "../i18n.js";
import type { EntityMeta, FieldMeta, Row } from "../meta.js";
import { listHref, navigate, recordHref } from "../router.js";
import { DatevExport } from "./invoice-actions.js";

const PAGE = 50;
/** At most this many rows go into one export. */
const EXPORT_MAX = 10_000;

/** The API query of the URL's: the filters, search and sort a list page sends. */
function apiQuery(meta: EntityMeta, query: URLSearchParams): URLSearchParams {
  const allowed = new Set(["q", "sort", "cursor"]);
  for (const f of meta.fields) {
    if (f.filter === "in") allowed.add(f.key);
    if (f.filter === "range") for (const k of [`${f.key}.gte`, `${f.key}.lte`]) allowed.add(k);
  }
  const out = new URLSearchParams();
  for (const [k, v] of query) if (allowed.has(k) && v !== "") out.set(k, v);
  // a day in a time range: from its start or to its end, in the browser's time zone
  for (const f of meta.fields.filter((x) => x.kind === "timestamp" && x.filter === "range")) {
    for (const [bound, time] of [
      ["gte", "T00:00:00"],
      ["lte", "T23:59:59.999"],
    ] as const) {
      const day = out.get(`${f.key}.${bound}`);
      if (day && /^\d{4}-\d{2}-\d{2}$/.test(day)) out.set(`${f.key}.${bound}`, new Date(`${day}${time}`).toISOString());
    }
  }
  return out;
}

const columnsKey = (entity: string) => `hub.columns.${entity}`;

function storedColumns(meta: EntityMeta): string[] {
  try {
    const saved = JSON.parse(localStorage.getItem(columnsKey(meta.name)) ?? "null") as unknown;
    if (Array.isArray(saved)) {
      const known = saved.filter((k): k is string => meta.fields.some((f) => f.key === k));
      if (known.length) return known;
    }
  } catch {
    // none saved
  }
  return meta.fields.filter((f) => f.list).map((f) => f.key);
}

/** A CSV cell of a value: numbers stay numbers (cents as euros), the rest as shown. */
function csvValue(field: FieldMeta, value: unknown): string | number | null {
  if (value === null || value === undefined) return null;
  if (field.kind === "cents") return Number(value) / 100;
  if (field.kind === "integer" || field.kind === "decimal") return Number(value);
  return display(field, value);
}

export function ListPage({ meta, query }: { meta: EntityMeta; query: URLSearchParams }) {
  const [rows, setRows] = useState<Row[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [columns, setColumns] = useState<string[]>(() => storedColumns(meta));
  const [choosing, setChoosing] = useState(false);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [bulk, setBulk] = useState<{ id: string; ok: boolean; text: string }[] | null>(null);
  const [search, setSearch] = useState(query.get("q") ?? "");
  const api = useMemo(() => apiQuery(meta, query), [meta, query]);
  const key = api.toString();

  useEffect(() => {
    const abort = new AbortController();
    setRows(null);
    setError(null);
    setSelected(new Set());
    const q = new URLSearchParams(api);
    q.set("limit", String(PAGE));
    get<{ items: Row[]; nextCursor: string | null }>(`/${meta.name}?${q}`, abort.signal)
      .then((page) => {
        setRows(page.items);
        setNext(page.nextCursor);
      })
      .catch((err) => abort.signal.aborted || setError(err));
    return () => abort.abort();
  }, [meta.name, key]);
  useEffect(() => setSearch(query.get("q") ?? ""), [query.get("q")]);

  const fields = columns.map((k) => meta.fields.find((f) => f.key === k)).filter((f): f is FieldMeta => !!f);
  /** The URL with `changes` applied (and back to the first page). */
  const withQuery = (changes: Record<string, string | null>) => {
    const q = new URLSearchParams(query);
    q.delete("cursor");
    for (const [k, v] of Object.entries(changes)) {
      if (v === null || v === "") q.delete(k);
      else q.set(k, v);
    }
    return listHref(meta.name, q);
  };
  const sort = query.get("sort") ?? meta.defaultSort;
  const toggleSort = (k: string) => navigate(withQuery({ sort: sort === k ? `-${k}` : k }), true);
  const chooseColumns = (next: string[]) => {
    setColumns(next);
    try {
      localStorage.setItem(columnsKey(meta.name), JSON.stringify(next));
    } catch {
      // the choice lasts for this page
    }
  };

  const exportRows = async (only?: Set<string>) => {
    try {
      const all: Row[] = [];
      let cursor: string | null = null;
      do {
        const q = new URLSearchParams(api);
        q.delete("cursor");
        q.set("limit", "500");
        if (cursor) q.set("cursor", cursor);
        const page: { items: Row[]; nextCursor: string | null } = await get(`/${meta.name}?${q}`);
        all.push(...page.items.filter((r) => !only || only.has(r.id)));
        cursor = page.nextCursor;
      } while (cursor && all.length < EXPORT_MAX && !only);
      const text = excelCsv(
        fields.map((f) => label(f.label)),
        all.slice(0, EXPORT_MAX).map((r) => fields.map((f) => csvValue(f, r[f.key]))),
        { yes: t("yes"), no: t("no") },
      );
      saveFile(`${meta.name}.csv`, new Blob([text], { type: "text/csv;charset=utf-8" }));
    } catch (err) {
      setError(err);
    }
  };

  const transitions = meta.workflow?.transitions.filter((tr) => tr.allowed) ?? [];
  const states = meta.fields.find((f) => f.key === meta.workflow?.field)?.options ?? [];
  const transitionSelected = async (to: string) => {
    const results: { id: string; ok: boolean; text: string }[] = [];
    for (const row of rows ?? []) {
      if (!selected.has(row.id)) continue;
      try {
        await call(`/${meta.name}/${row.id}/transitions`, { method: "POST", body: { to }, version: row.version });
        results.push({ id: row.id, ok: true, text: String(row[meta.titleField] ?? row.id) });
      } catch (err) {
        results.push({
          id: row.id,
          ok: false,
          text: `${String(row[meta.titleField] ?? row.id)}: ${describeError(err).text}`,
        });
      }
    }
    setBulk(results);
    navigate(listHref(meta.name, query), true);
  };

  const filterFields = meta.fields.filter((f) => f.filter);
  const searchable = meta.fields.some((f) => f.search);
  const cursor = query.get("cursor");

  return (
    <section class="list" aria-labelledby="list-title">
      <header class="page-head">
        <h1 id="list-title">{label(meta.plural)}</h1>
        <div class="actions">
          {meta.canWrite && (
            <a class="button" href={recordHref(meta.name, null)} data-testid="new-record">
              {t("newRecord")}
            </a>
          )}
          {meta.workflow && (
            <a class="button secondary" href={`#/board/${meta.name}`} data-testid="board-link">
              {t("board")}
            </a>
          )}
          <button type="button" class="secondary" onClick={() => exportRows()} data-testid="export-csv">
            {t("exportCsv")}
          </button>
          <button type="button" class="secondary" aria-expanded={choosing} onClick={() => setChoosing(!choosing)}>
            {t("columns")}
          </button>
        </div>
      </header>
      {meta.name === "invoices" && <DatevExport />}
      {choosing && (
        <fieldset class="columns" data-testid="column-chooser">
          <legend>{t("columns")}</legend>
          {meta.fields.map((f) => (
            <label key={f.key}>
              <input
                type="checkbox"
                checked={columns.includes(f.key)}
                onChange={(e) =>
                  chooseColumns(
                    e.currentTarget.checked
                      ? meta.fields.map((x) => x.key).filter((k) => k === f.key || columns.includes(k))
                      : columns.filter((k) => k !== f.key),
                  )
                }
              />
              {label(f.label)}
            </label>
          ))}
        </fieldset>
      )}
      <form
        class="filters"
        aria-label={t("filters")}
        onSubmit={(e) => {
          e.preventDefault();
          navigate(withQuery({ q: search.trim() || null }), true);
        }}
      >
        {searchable && (
          <div class="field">
            <label for="quick-search">{t("search")}</label>
            <input
              id="quick-search"
              type="search"
              value={search}
              placeholder={t("searchPlaceholder")}
              onInput={(e) => setSearch(e.currentTarget.value)}
              data-testid="quick-search"
            />
          </div>
        )}
        {filterFields.map((f) =>
          f.filter === "in" && f.options ? (
            <div class="field" key={f.key}>
              <label for={`filter-${f.key}`}>{label(f.label)}</label>
              <select
                id={`filter-${f.key}`}
                value={query.get(f.key) ?? ""}
                onChange={(e) => navigate(withQuery({ [f.key]: e.currentTarget.value }), true)}
                data-testid={`filter-${f.key}`}
              >
                <option value="">{t("all")}</option>
                {f.options.map((o) => (
                  <option key={o.value} value={o.value}>
                    {label(o.label)}
                  </option>
                ))}
              </select>
            </div>
          ) : f.filter === "range" ? (
            <fieldset class="range" key={f.key}>
              <legend>{label(f.label)}</legend>
              {(["gte", "lte"] as const).map((bound) => (
                <input
                  key={bound}
                  aria-label={`${label(f.label)} ${bound === "gte" ? t("from") : t("to")}`}
                  type={(f.kind === "date" || f.kind === "timestamp" ? "date" : "text") as "text"}
                  value={query.get(`${f.key}.${bound}`) ?? ""}
                  onChange={(e) => navigate(withQuery({ [`${f.key}.${bound}`]: e.currentTarget.value }), true)}
                />
              ))}
            </fieldset>
          ) : null,
        )}
        {searchable && (
          <button type="submit" class="secondary">
            {t("search")}
          </button>
        )}
        {[...api].length > 0 && (
          <a class="reset" href={listHref(meta.name)}>
            {t("reset")}
          </a>
        )}
      </form>
      {error ? <ErrorNotice {...describeError(error)} othersLabel={t("otherProblems")} /> : null}
      {bulk && (
        <ul class="bulk-results" data-testid="bulk-results" aria-live="polite">
          {bulk.map((r) => (
            <li key={r.id} class={r.ok ? "ok" : "failed"} data-ok={r.ok}>
              {r.ok ? "✓" : "✗"} {r.text}
            </li>
          ))}
        </ul>
      )}
      {selected.size > 0 && (
        <div class="bulk" role="toolbar" aria-label={`${selected.size}`} data-testid="bulk-actions">
          <span>{selected.size}</span>
          <button type="button" class="secondary" onClick={() => exportRows(selected)}>
            {t("exportCsv")}
          </button>
          {transitions.map((tr) => {
            const state = states.find((s) => s.value === tr.to);
            return (
              <button
                key={tr.to}
                type="button"
                onClick={() => transitionSelected(tr.to)}
                data-testid={`bulk-to-${tr.to}`}
              >
                {t("transitionTo", { state: state ? label(state.label) : tr.to })}
              </button>
            );
          })}
        </div>
      )}
      {rows === null && !error ? (
        <p aria-busy="true">{t("loading")}</p>
      ) : rows && rows.length === 0 ? (
        <p class="empty" data-testid="no-rows">
          {t("noRows")}
        </p>
      ) : rows ? (
        <div class="table-wrap">
          <table data-testid="list-table">
            <thead>
              <tr>
                <th class="select">
                  <input
                    type="checkbox"
                    aria-label={t("selectAll")}
                    checked={rows.length > 0 && rows.every((r) => selected.has(r.id))}
                    onChange={(e) => setSelected(new Set(e.currentTarget.checked ? rows.map((r) => r.id) : []))}
                  />
                </th>
                {fields.map((f) => {
                  const sortable = meta.sortable.includes(f.key);
                  const dir = sort === f.key ? "ascending" : sort === `-${f.key}` ? "descending" : undefined;
                  return (
                    <th key={f.key} aria-sort={dir} scope="col">
                      {sortable ? (
                        <button
                          type="button"
                          class="sort"
                          onClick={() => toggleSort(f.key)}
                          data-testid={`sort-${f.key}`}
                        >
                          {label(f.label)}
                          <span aria-hidden="true">
                            {dir === "ascending" ? " ▲" : dir === "descending" ? " ▼" : ""}
                          </span>
                        </button>
                      ) : (
                        label(f.label)
                      )}
                    </th>
                  );
                })}
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={r.id} data-testid="row" data-id={r.id}>
                  <td class="select">
                    <input
                      type="checkbox"
                      aria-label={`${t("selectRow")}: ${String(r[meta.titleField] ?? r.id)}`}
                      checked={selected.has(r.id)}
                      onChange={(e) => {
                        const s = new Set(selected);
                        if (e.currentTarget.checked) s.add(r.id);
                        else s.delete(r.id);
                        setSelected(s);
                      }}
                    />
                  </td>
                  {fields.map((f, i) => (
                    <td key={f.key} data-field={f.key}>
                      {i === 0 ? (
                        <a href={recordHref(meta.name, r.id)}>{display(f, r[f.key])}</a>
                      ) : (
                        display(f, r[f.key])
                      )}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      <nav class="pager" aria-label="pages">
        {cursor && <a href={withQuery({})}>{t("first")}</a>}
        {rows && <span>{t("rowsShown", { n: rows.length })}</span>}
        {next && (
          <a href={withQuery({ cursor: next })} data-testid="next-page">
            {t("next")}
          </a>
        )}
      </nav>
    </section>
  );
}
