/**
 * My approvals: the requests I may decide (never my own: the hub leaves them out and refuses them),
 * each with what it would do and the facts to decide on, approved or rejected with a comment
 * (a rejection says why); below, the requests I made and how they were decided.
 */

import { ErrorNotice, Notice, TextArea } from "@steinmetz/ui-kit/form.js";
import { formatDateTime, formatMoney } from "@steinmetz/ui-kit/format.js";
import { TableHead } from "@steinmetz/ui-kit/table.js";
import { useEffect, useState } from "preact/hooks";
import { call, get } from "../api.js";
import { describeError } from "../errors.js";
import { lang, t } from "../i18n.js";

interface Approval {
  id: string;
  operation: string;
  subject: { entity: string; id: string };
  facts: Record<string, unknown> | null;
  status: string;
  requestedBy: string;
  requestedByName: string | null;
  requestedAt: string;
  expiresAt: string;
  decidedByName: string | null;
  decidedAt: string | null;
  comment: string | null;
}

const OPERATIONS: Record<
  string,
  "op_invoice_finalise" | "op_invoice_cancel" | "op_stock_write_off" | "op_edge_power_limit"
> = {
  "invoice.finalise": "op_invoice_finalise",
  "invoice.cancel": "op_invoice_cancel",
  "stock.write_off": "op_stock_write_off",
  "edge.power_limit": "op_edge_power_limit",
};
const operationText = (op: string) => (OPERATIONS[op] ? t(OPERATIONS[op]) : op);

/** The facts a request names, labelled where the app knows them; money in euros. */
const FACTS: Record<
  string,
  "quantity" | "articleName" | "articleNumber" | "warehouseCode" | "serialNumber" | "amount"
> = {
  quantity: "quantity",
  articleName: "articleName",
  articleNumber: "articleNumber",
  warehouseCode: "warehouseCode",
  serialNumber: "serialNumber",
  amountCents: "amount",
};

function Facts({ facts }: { facts: Record<string, unknown> | null }) {
  if (!facts) return null;
  const l = lang.get();
  return (
    <dl class="facts">
      {Object.entries(facts)
        .filter(([, v]) => v !== null && v !== undefined)
        .map(([k, v]) => (
          <div key={k}>
            <dt>{FACTS[k] ? t(FACTS[k]) : k}</dt>
            <dd>
              {k.endsWith("Cents") && typeof v === "number"
                ? formatMoney(l, v)
                : typeof v === "object"
                  ? JSON.stringify(v)
                  : String(v)}
            </dd>
          </div>
        ))}
    </dl>
  );
}

function Decide({ approval, onDone }: { approval: Approval; onDone: (text: string) => void }) {
  const [comment, setComment] = useState("");
  const [missing, setMissing] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const id = `comment-${approval.id}`;
  const decide = async (how: "approve" | "reject") => {
    // a rejection says why: the requester reads it
    setMissing(how === "reject" && !comment.trim());
    if (how === "reject" && !comment.trim()) return;
    setBusy(true);
    setError(null);
    try {
      await call(`/approvals/${approval.id}/${how}`, {
        method: "POST",
        body: comment.trim() ? { comment: comment.trim() } : {},
      });
      onDone(how === "approve" ? t("approved") : t("rejected"));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="decide">
      {error ? <ErrorNotice {...describeError(error)} othersLabel={t("otherProblems")} /> : null}
      <TextArea
        id={id}
        label={t("comment")}
        value={comment}
        onValue={setComment}
        maxLength={2000}
        error={missing ? t("rejectNeedsComment") : undefined}
      />
      <div class="actions">
        <button type="button" disabled={busy} onClick={() => decide("approve")} data-testid="approve">
          {t("approve")}
        </button>
        <button type="button" class="danger" disabled={busy} onClick={() => decide("reject")} data-testid="reject">
          {t("reject")}
        </button>
      </div>
    </div>
  );
}

export function ApprovalsPage({ userId }: { userId: string }) {
  const [open, setOpen] = useState<Approval[] | null>(null);
  const [mine, setMine] = useState<Approval[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const load = () =>
    Promise.all([
      get<{ items: Approval[] }>("/approvals?status=pending&decidable=true&limit=100"),
      get<{ items: Approval[] }>("/approvals?limit=100"),
    ])
      .then(([decidable, all]) => {
        setOpen(decidable.items);
        setMine(all.items.filter((a) => a.requestedBy === userId));
      })
      .catch(setError);
  useEffect(() => {
    void load();
  }, []);
  const l = lang.get();
  return (
    <section aria-labelledby="approvals-title">
      <h1 id="approvals-title">{t("approvals")}</h1>
      {error ? <ErrorNotice {...describeError(error)} othersLabel={t("otherProblems")} /> : null}
      {notice && <Notice kind="success">{notice}</Notice>}
      <h2>{t("toDecide")}</h2>
      {open?.length === 0 && <p data-testid="nothing-to-decide">{t("nothingToDecide")}</p>}
      <ul class="cards" data-testid="to-decide">
        {open?.map((a) => (
          <li key={a.id} class="card" data-id={a.id} data-operation={a.operation}>
            <h3>{operationText(a.operation)}</h3>
            <p>
              {t("requestedBy", { who: a.requestedByName ?? a.requestedBy, at: formatDateTime(l, a.requestedAt) })} ·{" "}
              {t("expires", { at: formatDateTime(l, a.expiresAt) })}
            </p>
            <Facts facts={a.facts} />
            <Decide
              approval={a}
              onDone={(text) => {
                setNotice(text);
                void load();
              }}
            />
          </li>
        ))}
      </ul>
      <h2>{t("myRequests")}</h2>
      <div class="table-wrap">
        <table data-testid="my-requests">
          <TableHead columns={[t("operation"), t("status"), t("requestedAt"), t("decidedBy"), t("comment")]} />
          <tbody>
            {mine.map((a) => (
              <tr key={a.id} data-status={a.status}>
                <td>{operationText(a.operation)}</td>
                <td>{t(`status_${a.status}` as "status_pending")}</td>
                <td>{formatDateTime(l, a.requestedAt)}</td>
                <td>{a.decidedByName ?? "–"}</td>
                <td>{a.comment ?? "–"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
