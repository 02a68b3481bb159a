/**
 * Stock (`#/stock`, `inventory:read`): what each warehouse holds of each article (quantity,
 * reserved, available), and where a serial number is now — in a warehouse, on a project or at a
 * site — with every movement it made, each a link.
 */

import { ErrorNotice, Field } from "@steinmetz/ui-kit/form.js";
import { formatDateTime, formatNumber } from "@steinmetz/ui-kit/format.js";
import { TableHead } from "@steinmetz/ui-kit/table.js";
import { useEffect, useState } from "preact/hooks";
import { get } from "../api.js";
import { describeError } from "../errors.js";
import { lang, t } from "../i18n.js";
import { recordHref } from "../router.js";

interface StockRow {
  articleId: string;
  articleNumber: string;
  articleName: string;
  warehouseId: string;
  warehouseCode: string;
  quantity: number;
  reserved: number;
  available: number;
}
interface Serial {
  serialNumber: string;
  articleId: string;
  location: { kind: string; id: string | null };
  movements: { id: string; number: number; kind: string; createdAt: string }[];
}

/** The entity of a location kind, for its link. */
const LOCATION: Record<string, string> = { warehouse: "warehouses", project: "projects", site: "sites" };

export function StockPage() {
  const [rows, setRows] = useState<StockRow[] | null>(null);
  const [filter, setFilter] = useState("");
  const [serial, setSerial] = useState("");
  const [found, setFound] = useState<Serial | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [serialError, setSerialError] = useState<unknown>(null);
  useEffect(() => {
    get<{ items: StockRow[] }>("/stock?limit=1000")
      .then((r) => setRows(r.items))
      .catch(setError);
  }, []);
  const l = lang.get();
  const words = filter.toLowerCase().split(/\s+/).filter(Boolean);
  const shown = (rows ?? []).filter((r) =>
    words.every((w) => `${r.articleNumber} ${r.articleName} ${r.warehouseCode}`.toLowerCase().includes(w)),
  );
  return (
    <section aria-labelledby="stock-title">
      <h1 id="stock-title">{t("stock")}</h1>
      <form
        class="card serial-lookup"
        onSubmit={async (e) => {
          e.preventDefault();
          setFound(null);
          setSerialError(null);
          if (!serial.trim()) return;
          try {
            setFound(await get<Serial>(`/serial-numbers/${encodeURIComponent(serial.trim())}`));
          } catch (err) {
            setSerialError(err);
          }
        }}
      >
        <h2>{t("serialLookup")}</h2>
        <Field id="serial" label={t("serialNumber")} value={serial} onValue={setSerial} testId="serial" />
        <button type="submit" class="secondary" data-testid="serial-find">
          {t("search")}
        </button>
        {serialError ? <ErrorNotice {...describeError(serialError)} othersLabel={t("otherProblems")} /> : null}
        {found && (
          <div data-testid="serial-found" data-location={found.location.kind}>
            <p>
              {t(`at_${found.location.kind}` as "at_warehouse")}
              {found.location.id && LOCATION[found.location.kind] && (
                <>
                  {" "}
                  <a href={recordHref(LOCATION[found.location.kind] as string, found.location.id)}>{t("open")}</a>
                </>
              )}{" "}
              · <a href={recordHref("articles", found.articleId)}>{t("articleName")}</a>
            </p>
            <ol>
              {found.movements.map((m) => (
                <li key={m.id}>
                  <a href={recordHref("stock-movements", m.id)}>
                    {m.number} · {m.kind}
                  </a>{" "}
                  · {formatDateTime(l, m.createdAt)}
                </li>
              ))}
            </ol>
          </div>
        )}
      </form>
      {error ? <ErrorNotice {...describeError(error)} othersLabel={t("otherProblems")} /> : null}
      <div class="filters">
        <div class="field">
          <label for="stock-filter">{t("search")}</label>
          <input
            id="stock-filter"
            type="search"
            value={filter}
            onInput={(e) => setFilter(e.currentTarget.value)}
            data-testid="stock-filter"
          />
        </div>
      </div>
      <div class="table-wrap">
        <table data-testid="stock">
          <TableHead
            columns={[
              t("articleNumber"),
              t("articleName"),
              t("warehouseCode"),
              t("quantity"),
              t("reserved"),
              t("available"),
            ]}
          />
          <tbody>
            {shown.map((r) => (
              <tr
                key={`${r.articleId}/${r.warehouseId}`}
                data-article={r.articleNumber}
                data-warehouse={r.warehouseCode}
              >
                <td>
                  <a href={recordHref("articles", r.articleId)}>{r.articleNumber}</a>
                </td>
                <td>{r.articleName}</td>
                <td>
                  <a href={recordHref("warehouses", r.warehouseId)}>{r.warehouseCode}</a>
                </td>
                <td class="num">{formatNumber(l, r.quantity, 3)}</td>
                <td class="num">{formatNumber(l, r.reserved, 3)}</td>
                <td class="num" data-testid="available">
                  {formatNumber(l, r.available, 3)}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
