/**
 * What an invoice can do beyond its fields: a draft is finalised (numbered and frozen; above the
 * approval amount held for a second person), a finalised one downloaded as PDF or XRechnung, or
 * cancelled by a credit note (always held for approval). The DATEV export of a period sits on the
 * invoices' list.
 */
import { ErrorNotice, Field, Notice } from "@steinmetz/ui-kit/form.js";
import { useState } from "preact/hooks";
import { call, download } from "../api.js";
import { describeError } from "../errors.js";
import { allows } from "../grants.js";
import { t } from "../i18n.js";
import type { Row } from "../meta.js";

export function InvoiceActions({ invoice, onChanged }: { invoice: Row; onChanged: () => void }) {
  const [notice, setNotice] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const write = allows("billing:write");
  const act = async (what: "finalise" | "cancel") => {
    setError(null);
    setNotice(null);
    try {
      const res = await call<{ approval?: unknown }>(`/invoices/${invoice.id}/${what}`, {
        method: "POST",
        version: invoice.version,
        ...(what === "cancel" ? { body: {} } : {}),
      });
      setNotice(res.body?.approval ? t("heldForApproval") : what === "finalise" ? t("finalised") : t("cancelled"));
      onChanged();
    } catch (err) {
      setError(err);
    }
  };
  const base = `/api/v1/invoices/${invoice.id}`;
  return (
    <div class="invoice-actions" data-testid="invoice-actions">
      {error ? <ErrorNotice {...describeError(error)} othersLabel={t("otherProblems")} /> : null}
      {notice && <Notice kind="success">{notice}</Notice>}
      <div class="actions">
        {invoice.status === "draft" && write && (
          <button type="button" onClick={() => act("finalise")} data-testid="invoice-finalise">
            {t("finalise")}
          </button>
        )}
        {invoice.status === "finalised" && (
          <>
            <a class="button secondary" href={`${base}/pdf`} target="_blank" rel="noopener" data-testid="invoice-pdf">
              PDF
            </a>
            <button
              type="button"
              class="secondary"
              onClick={() => download(`/invoices/${invoice.id}/xrechnung`, "xrechnung.xml").catch(setError)}
              data-testid="invoice-xrechnung"
            >
              XRechnung
            </button>
            {write && (
              <button type="button" class="danger" onClick={() => act("cancel")} data-testid="invoice-cancel">
                {t("cancelInvoice")}
              </button>
            )}
          </>
        )}
      </div>
    </div>
  );
}

/** The DATEV export (EXTF Buchungsstapel) of a period, for the invoices' list. */
export function DatevExport() {
  const [from, setFrom] = useState("");
  const [to, setTo] = useState("");
  const [error, setError] = useState<unknown>(null);
  return (
    <form class="card datev" aria-label="DATEV" onSubmit={(e) => e.preventDefault()}>
      <Field id="datev-from" label={`DATEV ${t("from")}`} value={from} onValue={setFrom} type={"date" as "text"} />
      <Field id="datev-to" label={t("to")} value={to} onValue={setTo} type={"date" as "text"} />
      <button
        type="button"
        class="secondary"
        disabled={!from || !to}
        onClick={() => {
          setError(null);
          download(`/exports/datev?from=${from}&to=${to}`, "EXTF_Buchungsstapel.csv").catch(setError);
        }}
        data-testid="datev-export"
      >
        {t("datevExport")}
      </button>
      {error ? <ErrorNotice {...describeError(error)} othersLabel={t("otherProblems")} /> : null}
    </form>
  );
}
