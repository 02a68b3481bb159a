/**
 * A workflow as a board (`#/board/<entity>`, tickets as kanban): a column per state, a card per
 * record; dragging a card onto a column (mouse, pen or touch: pointer events), or choosing the
 * state from the card's menu (keyboard),
 * calls the same transition API as the record's stage bar; a move the workflow does not allow is
 * refused by the hub and said at the card.
 */
import { ErrorNotice } from "@steinmetz/ui-kit/form.js";
import { useEffect, useState } from "preact/hooks";
import { call, get } from "../api.js";
import { describeError } from "../errors.js";
import { label, t } from "../i18n.js";
import type { EntityMeta, Row } from "../meta.js";
import { listHref, recordHref } from "../router.js";

const PER_COLUMN = 100;

export function BoardPage({ meta }: { meta: EntityMeta }) {
  // the app shows a board only for an entity with a workflow
  const wf = meta.workflow as NonNullable<EntityMeta["workflow"]>;
  const states = meta.fields.find((f) => f.key === wf.field)?.options ?? [];
  const [rows, setRows] = useState<Record<string, Row[]>>({});
  const [error, setError] = useState<{ id: string; error: unknown } | null>(null);
  const [dragged, setDragged] = useState<string | null>(null);
  const load = async () => {
    const columns = await Promise.all(
      states.map(
        async (s) =>
          [
            s.value,
            (await get<{ items: Row[] }>(`/${meta.name}?${wf.field}=${s.value}&limit=${PER_COLUMN}`)).items,
          ] as const,
      ),
    );
    setRows(Object.fromEntries(columns));
  };
  useEffect(() => {
    load().catch((err) => setError({ id: "", error: err }));
  }, [meta.name]);
  const all = Object.values(rows).flat();
  const move = async (id: string, to: string) => {
    const row = all.find((r) => r.id === id);
    if (!row || row[wf.field] === to) return;
    setError(null);
    try {
      await call(`/${meta.name}/${id}/transitions`, { method: "POST", body: { to }, version: row.version });
    } catch (err) {
      setError({ id, error: err });
    }
    await load();
  };
  // a card dragged: dropped where the pointer is let go (on a column, or nowhere)
  useEffect(() => {
    if (!dragged) return;
    const up = (e: PointerEvent) => {
      const column = document.elementFromPoint(e.clientX, e.clientY)?.closest<HTMLElement>("[data-state]");
      setDragged(null);
      if (column?.dataset.state) void move(dragged, column.dataset.state);
    };
    addEventListener("pointerup", up, { once: true });
    return () => removeEventListener("pointerup", up);
  }, [dragged]);
  const allowedFrom = (state: string) =>
    meta.canWrite ? wf.transitions.filter((tr) => tr.allowed && tr.from.includes(state)).map((tr) => tr.to) : [];
  const stateLabel = (v: string) => label(states.find((s) => s.value === v)?.label ?? { de: v, en: v });
  return (
    <section aria-labelledby="board-title">
      <header class="page-head">
        <h1 id="board-title">
          {label(meta.plural)}: {t("board")}
        </h1>
        <a class="button secondary" href={listHref(meta.name)}>
          {t("asList")}
        </a>
      </header>
      {error && !error.id ? <ErrorNotice {...describeError(error.error)} othersLabel={t("otherProblems")} /> : null}
      <div class="board" data-testid="board">
        {states.map((s) => (
          <section
            key={s.value}
            class={dragged ? "column droppable" : "column"}
            aria-labelledby={`col-${s.value}`}
            data-state={s.value}
          >
            <h2 id={`col-${s.value}`}>
              {label(s.label)} <span class="count">{rows[s.value]?.length ?? 0}</span>
            </h2>
            <ul>
              {(rows[s.value] ?? []).map((r) => {
                const targets = allowedFrom(s.value);
                return (
                  <li
                    key={r.id}
                    class={dragged === r.id ? "card dragged" : "card"}
                    data-id={r.id}
                    onPointerDown={(e) => {
                      if (targets.length === 0 || (e.target as HTMLElement).closest("select, a")) return;
                      e.preventDefault();
                      setDragged(r.id);
                    }}
                  >
                    <a href={recordHref(meta.name, r.id)}>{String(r[meta.titleField] ?? r.id)}</a>
                    {error?.id === r.id && (
                      <ErrorNotice {...describeError(error.error)} othersLabel={t("otherProblems")} />
                    )}
                    {targets.length > 0 && (
                      <select
                        aria-label={`${t("moveTo")}: ${String(r[meta.titleField] ?? r.id)}`}
                        value=""
                        onChange={(e) => void move(r.id, e.currentTarget.value)}
                      >
                        <option value="">{t("moveTo")} …</option>
                        {targets.map((to) => (
                          <option key={to} value={to}>
                            {stateLabel(to)}
                          </option>
                        ))}
                      </select>
                    )}
                  </li>
                );
              })}
            </ul>
          </section>
        ))}
      </div>
    </section>
  );
}
