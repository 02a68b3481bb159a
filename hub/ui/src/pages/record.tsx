/**
 * One record of any entity, drawn from its declaration: a form whose fields check themselves as
 * the hub declares them, server problems shown at their fields, saving with If-Match (a 412 opens
 * a dialog: what is saved now, what was typed, reload or apply again), the workflow as a stage bar
 * with the transitions the server allows as buttons; read-only for those who may not write.
 */
import { Modal } from "@steinmetz/ui-kit/dialog.js";
import { Checkbox, ErrorNotice, Field, Notice, Select, TextArea } from "@steinmetz/ui-kit/form.js";
import { ApiError, splitProblems } from "@steinmetz/ui-kit/problem.js";
import { TableHead } from "@steinmetz/ui-kit/table.js";
import type { FunctionComponent } from "preact";
import { useEffect, useState } from "preact/hooks";
import { call, get } from "../api.js";
import { describeError } from "../errors.js";
import { check, display, fromInput, toInput } from "../fields.js";
import { label, t } from "../i18n.js";
import type { EntityMeta, FieldMeta, Row } from "../meta.js";
import { rememberRecord } from "../recent.js";
import { listHref, navigate, recordHref } from "../router.js";
import { InvoiceActions } from "./invoice-actions.js";
import { Timeline } from "./timeline.js";

type Values = Record<string, string>;

const valuesOf = (meta: EntityMeta, row: Row | null): Values =>
  Object.fromEntries(
    meta.fields.map((f) => [f.key, row ? toInput(f, row[f.key]) : f.kind === "boolean" ? "false" : ""]),
  );

/** A reference: the referenced record's title, and a search to pick another. */
function RefField(props: {
  field: FieldMeta;
  value: string;
  onValue: (v: string) => void;
  error?: string | undefined;
  disabled: boolean;
  entities: EntityMeta[];
}) {
  const { field, value, onValue, error, disabled, entities } = props;
  const target = entities.find((e) => e.name === field.ref);
  const [options, setOptions] = useState<{ value: string; label: string }[]>([]);
  const [q, setQ] = useState("");
  const title = (r: Row) => String(r[target?.titleField ?? "id"] ?? r.id);
  useEffect(() => {
    if (!target) return;
    const abort = new AbortController();
    const search = new URLSearchParams({ limit: "20" });
    if (q.trim() && target.fields.some((f) => f.search)) search.set("q", q.trim());
    Promise.all([
      get<{ items: Row[] }>(`/${target.name}?${search}`, abort.signal),
      value ? get<Row>(`/${target.name}/${value}`, abort.signal).catch(() => null) : Promise.resolve(null),
    ])
      .then(([page, current]) => {
        const list = page.items.map((r) => ({ value: r.id, label: title(r) }));
        if (current && !list.some((o) => o.value === current.id))
          list.unshift({ value: current.id, label: title(current) });
        setOptions(list);
      })
      .catch(() => undefined);
    return () => abort.abort();
  }, [target?.name, q, value]);
  const empty = { value: "", label: "–" };
  return (
    <div class="ref">
      <Select
        id={`f-${field.key}`}
        label={label(field.label)}
        value={value}
        onValue={onValue}
        options={[empty, ...options]}
        disabled={disabled}
        error={error}
        testId={`f-${field.key}`}
      />
      <div class="ref-tools">
        {!disabled && target?.fields.some((f) => f.search) && (
          <input
            type="search"
            class="ref-search"
            placeholder={t("search")}
            aria-label={`${label(field.label)}: ${t("search")}`}
            value={q}
            onInput={(e) => setQ(e.currentTarget.value)}
            data-testid={`ref-search-${field.key}`}
          />
        )}
        {value && target && (
          <a class="ref-link" href={recordHref(target.name, value)}>
            → {label(target.label)}
          </a>
        )}
      </div>
    </div>
  );
}

function FieldInput(props: {
  field: FieldMeta;
  value: string;
  onValue: (v: string) => void;
  error?: string | undefined;
  disabled: boolean;
  entities: EntityMeta[];
}) {
  const { field, value, onValue, error, disabled } = props;
  const id = `f-${field.key}`;
  const name = label(field.label);
  const hint = field.help ? label(field.help) : undefined;
  switch (field.kind) {
    case "boolean":
      return (
        <Checkbox
          id={id}
          label={name}
          checked={value === "true"}
          onChecked={(c) => onValue(String(c))}
          disabled={disabled}
          error={error}
          hint={hint}
        />
      );
    case "enum":
      return (
        <Select
          id={id}
          label={name}
          value={value}
          onValue={onValue}
          options={[
            ...(field.required ? [] : [{ value: "", label: "–" }]),
            ...(field.options ?? []).map((o) => ({ value: o.value, label: label(o.label) })),
          ]}
          disabled={disabled}
          error={error}
          testId={id}
        />
      );
    case "longtext":
      return (
        <TextArea id={id} label={name} value={value} onValue={onValue} disabled={disabled} error={error} hint={hint} />
      );
    case "ref":
      return <RefField {...props} />;
    default:
      return (
        <Field
          id={id}
          label={name}
          value={value}
          onValue={onValue}
          type={field.kind === "date" ? ("date" as "text") : "text"}
          inputMode={
            field.kind === "integer" || field.kind === "cents" || field.kind === "decimal" ? "numeric" : "text"
          }
          disabled={disabled}
          required={field.required}
          error={error}
          hint={hint}
          testId={id}
        />
      );
  }
}

/** A site's telemetry beside its record: its own chunk, loaded when a site is opened. */
function SiteTelemetry({ siteId }: { siteId: string }) {
  const [Panel, setPanel] = useState<FunctionComponent<{ siteId: string }> | null>(null);
  useEffect(() => {
    void import("./site.js").then((m) => setPanel(() => m.SitePanel));
  }, []);
  return Panel ? <Panel siteId={siteId} /> : <p aria-busy="true">{t("loading")}</p>;
}

export function RecordPage({ meta, id, entities }: { meta: EntityMeta; id: string | null; entities: EntityMeta[] }) {
  const [row, setRow] = useState<Row | null>(null);
  const [values, setValues] = useState<Values>(() => valuesOf(meta, null));
  const [touched, setTouched] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [conflict, setConflict] = useState<Row | null>(null);
  const [busy, setBusy] = useState(false);

  const load = async () => {
    if (!id) return;
    const { body, version } = await call<Row>(`/${meta.name}/${id}`);
    const loaded: Row = { ...body, version: version ?? body.version };
    setRow(loaded);
    setValues(valuesOf(meta, loaded));
    rememberRecord({ entity: meta.name, id, title: String(loaded[meta.titleField] ?? id) });
  };
  useEffect(() => {
    setRow(null);
    setError(null);
    setNotice(null);
    setTouched(false);
    setValues(valuesOf(meta, null));
    load().catch(setError);
  }, [meta.name, id]);

  const editable = meta.canWrite && (!id || row !== null);
  const writable = meta.fields.filter((f) => !f.readOnly);
  const original = valuesOf(meta, row);
  const changed = writable.filter((f) => values[f.key] !== original[f.key]);
  const local = Object.fromEntries(
    writable.map((f) => [f.key, check(f, values[f.key] ?? "")]).filter(([, m]) => m),
  ) as Record<string, string>;
  const server = splitProblems(error, Object.fromEntries(meta.fields.map((f) => [`/${f.key}`, f.key])));
  const fieldError = (key: string) => (touched ? local[key] : undefined) ?? server.fields[key];

  const save = async () => {
    setTouched(true);
    if (Object.keys(local).length) return;
    setBusy(true);
    setError(null);
    setNotice(null);
    try {
      if (!id) {
        const body = Object.fromEntries(
          writable.map((f) => [f.key, fromInput(f, values[f.key] ?? "")]).filter(([, v]) => v !== undefined),
        );
        const res = await call<Row & { status?: string }>(`/${meta.name}`, { method: "POST", body });
        if (res.body?.id && res.version !== null) {
          navigate(recordHref(meta.name, res.body.id), true);
          setNotice(t("created"));
        } else setNotice(t("saved"));
      } else if (row) {
        const body = Object.fromEntries(changed.map((f) => [f.key, fromInput(f, values[f.key] ?? "")]));
        const res = await call<Row>(`/${meta.name}/${id}`, { method: "PATCH", body, version: row.version });
        const saved: Row = { ...res.body, version: res.version ?? res.body.version };
        setRow(saved);
        setValues(valuesOf(meta, saved));
        setTouched(false);
        setNotice(t("saved"));
      }
    } catch (err) {
      if (err instanceof ApiError && err.status === 412 && id) {
        const { body, version: now } = await call<Row>(`/${meta.name}/${id}`);
        setConflict({ ...body, version: now ?? body.version });
      } else setError(err);
    } finally {
      setBusy(false);
    }
  };

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "s") {
        e.preventDefault();
        if (editable && !busy) void save();
      }
    };
    addEventListener("keydown", onKey);
    return () => removeEventListener("keydown", onKey);
  });

  const transition = async (to: string) => {
    if (!row || !id) return;
    setError(null);
    try {
      await call(`/${meta.name}/${id}/transitions`, { method: "POST", body: { to }, version: row.version });
      await load();
    } catch (err) {
      setError(err);
    }
  };

  const wf = meta.workflow;
  const stateField = wf && meta.fields.find((f) => f.key === wf.field);
  const current = wf && row ? String(row[wf.field] ?? wf.initial) : wf?.initial;
  const title = row ? String(row[meta.titleField] ?? "") : t("newRecord");

  return (
    <section class="record" aria-labelledby="record-title">
      <nav class="breadcrumbs" aria-label="breadcrumbs">
        <a href="#/">{t("home")}</a> › <a href={listHref(meta.name)}>{label(meta.plural)}</a> › <span>{title}</span>
      </nav>
      <header class="page-head">
        <h1 id="record-title">
          {label(meta.label)}: {title}
        </h1>
      </header>
      {wf && stateField && id && (
        <div class="stages" data-testid="stages">
          <ol aria-label={t("status")}>
            {(stateField.options ?? []).map((o) => (
              <li key={o.value} aria-current={o.value === current ? "step" : undefined} data-state={o.value}>
                {label(o.label)}
              </li>
            ))}
          </ol>
          {meta.canWrite &&
            wf.transitions
              .filter((tr) => tr.allowed && current !== undefined && tr.from.includes(current))
              .map((tr) => (
                <button key={tr.to} type="button" onClick={() => transition(tr.to)} data-testid={`to-${tr.to}`}>
                  {t("transitionTo", {
                    state: label(stateField.options?.find((o) => o.value === tr.to)?.label ?? { de: tr.to, en: tr.to }),
                  })}
                </button>
              ))}
        </div>
      )}
      {!meta.canWrite && (
        <p class="notice info" data-testid="read-only">
          {t("readOnly")}
        </p>
      )}
      {notice && <Notice kind="success">{notice}</Notice>}
      {error ? <ErrorNotice {...describeError(error)} others={server.others} othersLabel={t("otherProblems")} /> : null}
      <form
        class="record-form"
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          void save();
        }}
      >
        <div class="grid">
          {meta.fields.map((f) =>
            f.readOnly || !editable ? (
              <div class="field static" key={f.key}>
                <span class="label">{label(f.label)}</span>
                <span data-testid={`v-${f.key}`}>{row ? display(f, row[f.key]) : "–"}</span>
              </div>
            ) : (
              <FieldInput
                key={f.key}
                field={f}
                value={values[f.key] ?? ""}
                onValue={(v) => setValues({ ...values, [f.key]: v })}
                error={fieldError(f.key)}
                disabled={busy}
                entities={entities}
              />
            ),
          )}
        </div>
        {row && (
          <p class="meta-line">
            {t("createdAt")} {display({ kind: "timestamp" } as FieldMeta, row.createdAt)} · {t("updatedAt")}{" "}
            {display({ kind: "timestamp" } as FieldMeta, row.updatedAt)} · {t("version")} {row.version}
          </p>
        )}
        {editable && (
          <div class="actions">
            <button type="submit" disabled={busy || (!!id && changed.length === 0)} data-testid="save">
              {t("save")}
            </button>
            <a class="button secondary" href={listHref(meta.name)}>
              {t("cancel")}
            </a>
          </div>
        )}
      </form>
      {meta.name === "invoices" && row && <InvoiceActions invoice={row} onChanged={() => void load()} />}
      {meta.name === "sites" && id && row && <SiteTelemetry siteId={id} />}
      {id && row && <Timeline meta={meta} id={id} version={row.version} />}
      <Modal
        open={conflict !== null}
        onClose={() => setConflict(null)}
        labelledBy="conflict-title"
        class="conflict"
        testId="conflict"
      >
        <h2 id="conflict-title">{t("conflictTitle")}</h2>
        <p>{t("conflictText")}</p>
        <table>
          <TableHead columns={[t("field"), t("conflictTheirs"), t("conflictMine")]} />
          <tbody>
            {conflict &&
              writable
                .filter((f) => valuesOf(meta, conflict)[f.key] !== original[f.key] || values[f.key] !== original[f.key])
                .map((f) => (
                  <tr key={f.key} data-field={f.key}>
                    <th scope="row">{label(f.label)}</th>
                    <td>{display(f, conflict[f.key])}</td>
                    <td>{values[f.key] !== original[f.key] ? values[f.key] : "–"}</td>
                  </tr>
                ))}
          </tbody>
        </table>
        <div class="actions">
          <button
            type="button"
            class="secondary"
            data-testid="conflict-reload"
            onClick={() => {
              setConflict(null);
              setRow(conflict);
              setValues(valuesOf(meta, conflict));
            }}
          >
            {t("conflictReload")}
          </button>
          <button
            type="button"
            data-testid="conflict-reapply"
            onClick={() => {
              const theirs = conflict as Row;
              setConflict(null);
              // my changes on top of what is saved now
              const mine = Object.fromEntries(changed.map((f) => [f.key, values[f.key] ?? ""]));
              setRow(theirs);
              setValues({ ...valuesOf(meta, theirs), ...mine });
            }}
          >
            {t("conflictReapply")}
          </button>
        </div>
      </Modal>
    </section>
  );
}
