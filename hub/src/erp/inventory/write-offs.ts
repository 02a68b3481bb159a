import { ApprovalHeld } from "../../approvals/schemas.js";
import { type ApprovalExecutor, heldAnswer, requestApproval, requiresApproval } from "../../approvals/service.js";
import type { EntityDefinition, EntityHooks } from "../../platform/resources/entity.js";
import { insertRecord } from "../../platform/resources/repository.js";

/** The approval operation (policy row in `ops.approval_policies`) of writing stock off. */
export const WRITE_OFF = "stock.write_off";

/**
 * Writing stock off needs a second person's approval (policy `stock.write_off`): the movement
 * is not written but held as an approval request (202), tried first so that one the ledger would
 * refuse is refused at once; the ledger gets it when someone else approves (`writeOffExecutor`).
 * The subject is the stock written off (warehouse, article and serial number): one pending
 * write-off each. The reversal of a write-off (stock back) is written at once.
 */
export const holdWriteOffs: NonNullable<EntityHooks["holdCreate"]> = {
  schema: ApprovalHeld,
  async hold(tx, input, principal) {
    if (input.kind !== "write_off" || input.reversesId || !(await requiresApproval(tx, WRITE_OFF))) return undefined;
    if (!principal) throw new Error("a write-off is held for approval only for an authenticated caller");
    const { rows } = await tx.query(
      `SELECT (SELECT number FROM erp.articles WHERE id = $1) AS article_number,
         (SELECT name FROM erp.articles WHERE id = $1) AS article_name,
         (SELECT code FROM erp.warehouses WHERE id = $2) AS warehouse_code`,
      [input.articleId ?? null, input.fromWarehouseId ?? null],
    );
    const names = rows[0] ?? {};
    const approval = await requestApproval(tx, {
      operation: WRITE_OFF,
      subject: {
        entity: "stock",
        id: [input.fromWarehouseId, input.articleId, input.serialNumber].filter((part) => part != null).join("/"),
      },
      payload: input,
      facts: {
        articleNumber: names.article_number ?? null,
        articleName: names.article_name ?? null,
        warehouseCode: names.warehouse_code ?? null,
        quantity: input.quantity ?? null,
        serialNumber: input.serialNumber ?? null,
      },
      principal,
    });
    return heldAnswer(approval);
  },
};

/** Writes an approved write-off to the ledger (`ledger`: the stock movements' declaration). */
export const writeOffExecutor =
  (ledger: EntityDefinition): ApprovalExecutor =>
  async (tx, work) => {
    const movement = await insertRecord(tx, ledger, work.payload);
    return { stockMovementId: movement.id, number: Number(movement.number) };
  };
