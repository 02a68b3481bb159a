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
 * write-off each. Reversing a receipt takes stock out of the warehouse to nowhere as well, so it
 * waits the same way; the reversal of a write-off (stock back) and of any other movement is
 * written at once.
 */
export const holdWriteOffs: NonNullable<EntityHooks["holdCreate"]> = {
  schema: ApprovalHeld,
  async hold(tx, input, principal) {
    const stockLeaves = input.kind === "write_off" ? !input.reversesId : await reversesReceipt(tx, input.reversesId);
    if (!stockLeaves || !(await requiresApproval(tx, WRITE_OFF))) return undefined;
    if (!principal) throw new Error("a write-off is held for approval only for an authenticated caller");
    // a reversal names only what it reverses: the stock it takes is the receipt's
    const original = input.reversesId
      ? (
          await tx.query(
            "SELECT article_id, to_warehouse_id, serial_number, quantity FROM erp.stock_movements WHERE id = $1",
            [input.reversesId],
          )
        ).rows[0]
      : undefined;
    if (original) {
      input = {
        ...input,
        articleId: original.article_id,
        fromWarehouseId: original.to_warehouse_id,
        serialNumber: original.serial_number,
        quantity: Number(original.quantity),
      };
    }
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
      payload: original ? { reversesId: input.reversesId, notes: input.notes ?? null } : input,
      facts: {
        ...(original ? { reverses: "receipt" } : {}),
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

/** Whether `reversesId` names a receipt (its reversal takes the stock out again). */
async function reversesReceipt(tx: Parameters<NonNullable<EntityHooks["holdCreate"]>["hold"]>[0], reversesId: unknown) {
  if (typeof reversesId !== "string") return false;
  const { rows } = await tx.query("SELECT kind FROM erp.stock_movements WHERE id = $1", [reversesId]);
  return rows[0]?.kind === "receipt";
}
