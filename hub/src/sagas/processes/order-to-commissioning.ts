import { Type } from "@sinclair/typebox";
import type { Queryable } from "../../db/queryable.js";
import { defineSaga, PermanentStepError, UUID_PATTERN } from "../definition.js";
import { type EdgeIdentityDeps, isEnrolled, issueEnrollmentCode, revokeEdgeIdentity } from "./edge-identity.js";

/** What starts an order: the quote the customer accepted. */
export interface OrderInput {
  quoteId: string;
}

export const ORDER_TO_COMMISSIONING = "order-to-commissioning";

/** The quote as the order's steps need it. */
interface AcceptedQuote {
  number: string;
  title: string;
  customerId: string;
  /** Null for an order without a site (no gateway then). */
  siteId: string | null;
  projectId: string | null;
  netCents: number;
}
interface ProjectOutput {
  projectId: string;
  created: boolean;
  previousStatus: string | null;
}
interface Reservation {
  reservationId: string;
  articleId: string;
  warehouseId: string;
  quantity: string;
  created: boolean;
}
interface Gateway {
  gatewayId: string;
  edgeId: string;
  created: boolean;
  enrollmentCode: string | null;
  codeExpiresAt: string | null;
}

/** Savepoint around `work`: a refusal by a constraint is answered by `fallback` in the same transaction. */
async function orElse(tx: Queryable, work: () => Promise<unknown>, fallback: () => Promise<unknown>) {
  await tx.query("SAVEPOINT order_step");
  try {
    await work();
    await tx.query("RELEASE SAVEPOINT order_step");
  } catch (err) {
    if ((err as { code?: string }).code !== "23503") throw err; // only "still referenced"
    await tx.query("ROLLBACK TO SAVEPOINT order_step");
    await fallback();
  }
}

/** Copies the quote's lines into a new invoice draft of the order; returns its id. */
export async function draftInvoiceFromQuote(tx: Queryable, quoteId: string, projectId: string): Promise<string> {
  const { rows } = await tx.query(
    `INSERT INTO erp.invoices (customer_id, project_id, site_id, notes)
     SELECT customer_id, $2, site_id, 'Gemäß unserem Angebot ' || number || '.' FROM erp.quotes WHERE id = $1
     RETURNING id`,
    [quoteId, projectId],
  );
  const invoiceId: string = rows[0]?.id;
  await tx.query(
    `INSERT INTO erp.invoice_lines (invoice_id, position, kind, article_id, description, quantity, unit,
       unit_price_cents, vat_category, vat_rate, exemption_reason)
     SELECT $1, position, kind, article_id, description, quantity, unit, unit_price_cents, vat_category, vat_rate,
       exemption_reason
     FROM erp.quote_lines WHERE quote_id = $2 ORDER BY position`,
    [invoiceId, quoteId],
  );
  await tx.query("UPDATE erp.quotes SET invoice_id = $2, version = version + 1, updated_at = now() WHERE id = $1", [
    quoteId,
    invoiceId,
  ]);
  return invoiceId;
}

/**
 * From an accepted quote to a site ready for commissioning (DESIGN: ERP processes), each step
 * beside what undoes it. Started by the quote's acceptance (event `quote.accepted`) or over the
 * API (which accepts a sent quote), once per quote (the quote's id is the saga's key).
 */
export const orderToCommissioning = (deps: EdgeIdentityDeps) =>
  defineSaga<OrderInput>({
    type: ORDER_TO_COMMISSIONING,
    version: 1,
    startPermission: "projects:write",
    keyOf: ({ quoteId }) => quoteId,
    inputSchema: Type.Object({ quoteId: Type.String({ pattern: UUID_PATTERN }) }, { additionalProperties: false }),
    steps: [
      {
        // The customer's yes: a sent quote becomes accepted (one accepted already stays so).
        name: "accept-quote",
        async action(tx, { quoteId }): Promise<AcceptedQuote> {
          const { rows } = await tx.query(
            `SELECT q.number, q.title, q.status, q.customer_id, q.site_id, q.project_id,
               (SELECT coalesce(sum(line_net_cents), 0)::bigint FROM erp.quote_lines WHERE quote_id = q.id) AS net_cents
             FROM erp.quotes q WHERE q.id = $1 FOR UPDATE`,
            [quoteId],
          );
          const q = rows[0];
          if (!q) throw new PermanentStepError(`quote ${quoteId} does not exist`, { code: "HUB_ERR_NOT_FOUND" });
          if (q.status !== "sent" && q.status !== "accepted") {
            throw new PermanentStepError(`quote ${q.number} is ${q.status}: only a sent quote is ordered`, {
              code: "HUB_ERR_TRANSITION_NOT_ALLOWED",
            });
          }
          if (q.status === "sent") {
            await tx.query(
              "UPDATE erp.quotes SET status = 'accepted', accepted_at = now(), version = version + 1, updated_at = now() WHERE id = $1",
              [quoteId],
            );
          }
          return {
            number: q.number,
            title: q.title,
            customerId: q.customer_id,
            siteId: q.site_id,
            projectId: q.project_id,
            netCents: Number(q.net_cents),
          };
        },
        // The order did not go through: the quote is open again (sent).
        async compensate(tx, { quoteId }) {
          await tx.query(
            `UPDATE erp.quotes SET status = 'sent', accepted_at = NULL, version = version + 1, updated_at = now()
             WHERE id = $1 AND status = 'accepted'`,
            [quoteId],
          );
        },
      },
      {
        // The quote's project moves to ordered (a lead or quoted one), or a new installation
        // project is made for it; a cancelled or closed project refuses the order.
        name: "create-project",
        async action(tx, { quoteId }, { outputs }): Promise<ProjectOutput> {
          const quote = outputs["accept-quote"] as AcceptedQuote;
          if (quote.projectId) {
            const { rows } = await tx.query("SELECT status FROM erp.projects WHERE id = $1 FOR UPDATE", [
              quote.projectId,
            ]);
            const status: string | undefined = rows[0]?.status;
            if (!status || status === "cancelled" || status === "closed") {
              throw new PermanentStepError(`the quote's project is ${status ?? "gone"}: it cannot be ordered`, {
                code: "HUB_ERR_TRANSITION_NOT_ALLOWED",
              });
            }
            // a lead or quoted project is ordered now; one further along (an extension of a
            // project in progress) stays where it is
            await tx.query(
              "UPDATE erp.projects SET status = 'ordered', version = version + 1, updated_at = now() WHERE id = $1 AND status IN ('lead', 'quoted')",
              [quote.projectId],
            );
            return { projectId: quote.projectId, created: false, previousStatus: status };
          }
          const { rows } = await tx.query(
            `INSERT INTO erp.projects (title, customer_id, site_id, kind, status, budget_cents)
             VALUES ($1, $2, $3, 'installation', 'ordered', $4) RETURNING id`,
            [quote.title, quote.customerId, quote.siteId, quote.netCents],
          );
          await tx.query(
            "UPDATE erp.quotes SET project_id = $2, version = version + 1, updated_at = now() WHERE id = $1",
            [quoteId, rows[0]?.id],
          );
          return { projectId: rows[0]?.id, created: true, previousStatus: null };
        },
        // A project made for the order goes (cancelled where something refers to it meanwhile);
        // an existing one gets its status back.
        async compensate(tx, { quoteId }, { output }) {
          const project = output as ProjectOutput;
          if (!project.created) {
            await tx.query(
              "UPDATE erp.projects SET status = $2, version = version + 1, updated_at = now() WHERE id = $1 AND status = 'ordered'",
              [project.projectId, project.previousStatus],
            );
            return;
          }
          await tx.query(
            "UPDATE erp.quotes SET project_id = NULL, version = version + 1, updated_at = now() WHERE id = $1",
            [quoteId],
          );
          await orElse(
            tx,
            () => tx.query("DELETE FROM erp.projects WHERE id = $1", [project.projectId]),
            () =>
              tx.query(
                "UPDATE erp.projects SET status = 'cancelled', version = version + 1, updated_at = now() WHERE id = $1 AND status = 'ordered'",
                [project.projectId],
              ),
          );
        },
      },
      {
        // Stock for every article line (modules, inverters, batteries…, not services), each
        // article from the warehouse with the most of it free; not enough anywhere ends the order.
        name: "reserve-stock",
        retry: { maxAttempts: 5, initialDelayMs: 50, maxDelayMs: 1_000 },
        async action(tx, { quoteId }, { outputs }): Promise<Reservation[]> {
          const { projectId } = outputs["create-project"] as ProjectOutput;
          const { rows: needs } = await tx.query(
            `SELECT l.article_id, a.number, sum(l.quantity)::text AS quantity FROM erp.quote_lines l
             JOIN erp.articles a ON a.id = l.article_id
             WHERE l.quote_id = $1 AND l.kind = 'article' AND a.category <> 'service' AND l.quantity > 0
             GROUP BY l.article_id, a.number ORDER BY a.number`,
            [quoteId],
          );
          const reserved: Reservation[] = [];
          for (const need of needs) {
            const { rows: stock } = await tx.query(
              `SELECT warehouse_id FROM erp.stock WHERE article_id = $1 AND quantity - reserved >= $2::numeric
               ORDER BY quantity - reserved DESC, warehouse_id LIMIT 1`,
              [need.article_id, need.quantity],
            );
            if (!stock[0]) {
              throw new PermanentStepError(
                `not enough of article ${need.number} free in any warehouse (${need.quantity} needed)`,
                {
                  code: "HUB_ERR_STOCK_INSUFFICIENT",
                },
              );
            }
            // taken by a concurrent order between the look and this write: the constraint refuses
            // it, and the step is tried again (another warehouse, or not enough: permanent)
            const { rows } = await tx.query(
              `INSERT INTO erp.reservations (project_id, article_id, warehouse_id, quantity, notes)
               VALUES ($1, $2, $3, $4, 'Auftrag') ON CONFLICT (project_id, article_id, warehouse_id)
               DO UPDATE SET quantity = erp.reservations.quantity + EXCLUDED.quantity,
                 version = erp.reservations.version + 1, updated_at = now()
               RETURNING id, (xmax = 0) AS created`,
              [projectId, need.article_id, stock[0]?.warehouse_id, need.quantity],
            );
            reserved.push({
              reservationId: rows[0]?.id,
              articleId: need.article_id,
              warehouseId: stock[0]?.warehouse_id,
              quantity: need.quantity,
              created: rows[0]?.created,
            });
          }
          return reserved;
        },
        // What the order reserved is free again (what was issued to the project meanwhile is not).
        async compensate(tx, _input, { output }) {
          for (const r of output as Reservation[]) {
            await tx.query(
              `UPDATE erp.reservations SET quantity = greatest(quantity - $2::numeric, 0), version = version + 1,
                 updated_at = now() WHERE id = $1`,
              [r.reservationId, r.quantity],
            );
            if (r.created)
              await tx.query("DELETE FROM erp.reservations WHERE id = $1 AND quantity = 0", [r.reservationId]);
          }
        },
      },
      {
        // The installation as a ticket at the site, for the team that plans it.
        name: "schedule-installation",
        async action(tx, _input, { sagaId, outputs }) {
          const quote = outputs["accept-quote"] as AcceptedQuote;
          const { rows } = await tx.query(
            `INSERT INTO erp.tickets (site_id, title, description, priority, source, cause)
             SELECT $1, left('Installation: ' || $2, 200), 'Auftrag aus Angebot ' || $3 || ', Projekt ' || p.number || '.',
               'normal', 'order', $5
             FROM erp.projects p WHERE p.id = $4
             RETURNING id, number`,
            [
              quote.siteId,
              quote.title,
              quote.number,
              (outputs["create-project"] as ProjectOutput).projectId,
              `order:${sagaId}`,
            ],
          );
          return { ticketId: rows[0]?.id, number: rows[0]?.number };
        },
        async compensate(tx, _input, { output }) {
          await tx.query(
            `UPDATE erp.tickets SET status = 'cancelled', version = version + 1, updated_at = now()
             WHERE id = $1 AND status NOT IN ('closed', 'cancelled')`,
            [(output as { ticketId: string }).ticketId],
          );
        },
      },
      {
        // The site's gateway: its edge id, and a one-time enrollment code for the installer (in
        // this step's output; the audit trail leaves outputs out). A gateway enrolled already keeps
        // its certificate and gets no code; an order without a site has none.
        name: "enroll-gateway",
        async action(tx, _input, { sagaId, fence, outputs }): Promise<Gateway | null> {
          const quote = outputs["accept-quote"] as AcceptedQuote;
          if (!quote.siteId) return null;
          const { rows: existing } = await tx.query(
            "SELECT id, edge_id FROM erp.gateways WHERE site_id = $1 ORDER BY created_at, id LIMIT 1 FOR UPDATE",
            [quote.siteId],
          );
          let gateway = existing[0] as { id: string; edge_id: string } | undefined;
          const created = !gateway;
          if (!gateway) {
            const { rows } = await tx.query(
              `INSERT INTO erp.gateways (site_id, edge_id, name)
               SELECT id, 'gw-' || left(id::text, 8) || '-' || left($2, 4), left('Gateway ' || name, 200) FROM erp.sites WHERE id = $1
               RETURNING id, edge_id`,
              [quote.siteId, sagaId],
            );
            gateway = rows[0] as { id: string; edge_id: string };
          }
          if (!created && isEnrolled(deps, gateway.edge_id)) {
            return {
              gatewayId: gateway.id,
              edgeId: gateway.edge_id,
              created,
              enrollmentCode: null,
              codeExpiresAt: null,
            };
          }
          const code = await issueEnrollmentCode(deps, gateway.edge_id, { owner: sagaId, fence });
          return {
            gatewayId: gateway.id,
            edgeId: gateway.edge_id,
            created,
            enrollmentCode: code.code,
            codeExpiresAt: code.expiresAt,
          };
        },
        // The code is withdrawn and a certificate issued with it revoked; a gateway the order made goes.
        async compensate(tx, _input, { output, sagaId, fence }) {
          const gateway = output as Gateway | null;
          if (!gateway) return;
          if (gateway.enrollmentCode) await revokeEdgeIdentity(deps, gateway.edgeId, { owner: sagaId, fence });
          if (gateway.created) await tx.query("DELETE FROM erp.gateways WHERE id = $1", [gateway.gatewayId]);
        },
      },
      {
        // The invoice draft with the quote's lines, for accounting to finalise after commissioning.
        name: "draft-invoice",
        async action(tx, { quoteId }, { outputs }) {
          const { projectId } = outputs["create-project"] as ProjectOutput;
          return { invoiceId: await draftInvoiceFromQuote(tx, quoteId, projectId) };
        },
        // Only a draft is deleted: a finalised invoice is undone by cancelling the order (credit note).
        async compensate(tx, _input, { output }) {
          const { invoiceId } = output as { invoiceId: string };
          const { rows } = await tx.query("DELETE FROM erp.invoices WHERE id = $1 AND status = 'draft' RETURNING id", [
            invoiceId,
          ]);
          if (!rows[0]) {
            const { rows: left } = await tx.query("SELECT number FROM erp.invoices WHERE id = $1", [invoiceId]);
            if (left[0]) throw new Error(`invoice ${left[0].number} is finalised: cancel the order to credit it`);
          }
        },
      },
    ],
  });
