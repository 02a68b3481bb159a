/** A record's timeline: its changes from the audit trail (who, when, why, which field from what to what) and its comments. */

import { ErrorNotice, TextArea } from "@steinmetz/ui-kit/form.js";
import { formatDateTime } from "@steinmetz/ui-kit/format.js";
import { useEffect, useState } from "preact/hooks";
import { call, get } from "../api.js";
import { describeError } from "../errors.js";
import { display } from "../fields.js";
import { label, lang, t } from "../i18n.js";
import type { EntityMeta } from "../meta.js";

interface Entry {
  kind: "change" | "comment";
  at: string;
  op: string | null;
  actorName: string | null;
  reason: string | null;
  changes: { field: string; before: unknown; after: unknown }[];
  body: string | null;
}

const OPS: Record<string, "opInsert" | "opUpdate" | "opDelete"> = {
  INSERT: "opInsert",
  UPDATE: "opUpdate",
  DELETE: "opDelete",
};

export function Timeline({ meta, id, version }: { meta: EntityMeta; id: string; version: number }) {
  const [items, setItems] = useState<Entry[] | null>(null);
  const [comment, setComment] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const load = () =>
    get<{ items: Entry[] }>(`/${meta.name}/${id}/timeline`)
      .then((r) => setItems(r.items))
      .catch(setError);
  useEffect(() => {
    void load();
  }, [meta.name, id, version]);
  const l = lang.get();
  const fieldOf = (key: string) => meta.fields.find((f) => f.key === key);
  return (
    <section class="timeline" aria-labelledby="timeline-title">
      <h2 id="timeline-title">{t("timeline")}</h2>
      {error ? <ErrorNotice {...describeError(error)} othersLabel={t("otherProblems")} /> : null}
      {meta.canWrite && (
        <form
          onSubmit={async (e) => {
            e.preventDefault();
            if (!comment.trim()) return;
            setBusy(true);
            try {
              await call(`/${meta.name}/${id}/comments`, { method: "POST", body: { body: comment.trim() } });
              setComment("");
              await load();
            } catch (err) {
              setError(err);
            } finally {
              setBusy(false);
            }
          }}
        >
          <TextArea id="new-comment" label={t("comment")} value={comment} onValue={setComment} maxLength={4000} />
          <button type="submit" class="secondary" disabled={busy || !comment.trim()} data-testid="add-comment">
            {t("addComment")}
          </button>
        </form>
      )}
      <ol data-testid="timeline">
        {items?.map((e, i) => (
          <li key={`${e.at}-${i}`} class={e.kind} data-kind={e.kind} data-op={e.op ?? undefined}>
            <p class="who">
              <strong>{e.actorName ?? "–"}</strong> · {formatDateTime(l, e.at)}
              {e.op && ` · ${OPS[e.op] ? t(OPS[e.op] as "opInsert") : e.op}`}
              {e.reason && ` · ${t("reason")}: ${e.reason}`}
            </p>
            {e.body && <p class="body">{e.body}</p>}
            {e.kind === "change" && e.op === "UPDATE" && e.changes.length > 0 && (
              <ul class="changes">
                {e.changes.map((c) => {
                  const f = fieldOf(c.field);
                  return (
                    <li key={c.field} data-field={c.field}>
                      {f ? label(f.label) : c.field}: {f ? display(f, c.before) : String(c.before)} →{" "}
                      {f ? display(f, c.after) : String(c.after)}
                    </li>
                  );
                })}
              </ul>
            )}
          </li>
        ))}
      </ol>
    </section>
  );
}
