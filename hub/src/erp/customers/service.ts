import { hubError } from "../../errors.js";
import { customerNotFound, customerStale } from "./errors.js";
import * as repo from "./repository.js";
import type { Customer, CustomerCreate, CustomerPatch } from "./schemas.js";

/**
 * Customers: plain CRUD with optimistic locking. Writes take the request's transaction, in which
 * the audit trigger records each change with the actor set by the unit of work.
 */

/** Creates a customer. */
export const createCustomer = (tx: repo.Db, input: CustomerCreate): Promise<Customer> => repo.insertCustomer(tx, input);

/** One customer; 404 when there is none. */
export async function getCustomer(db: repo.Db, id: string): Promise<Customer> {
  const customer = await repo.findCustomer(db, id);
  if (!customer) throw customerNotFound(id);
  return customer;
}

/** A page of customers and the cursor of the next one. */
export async function listCustomers(
  db: repo.Db,
  page: { limit: number; cursor?: string },
): Promise<{ items: Customer[]; nextCursor: string | null }> {
  const items = await repo.listCustomers(db, {
    limit: page.limit,
    after: page.cursor ? decodeCursor(page.cursor) : undefined,
  });
  const last = items[items.length - 1];
  const nextCursor =
    last && items.length === page.limit
      ? Buffer.from(JSON.stringify({ createdAt: last.createdAt, id: last.id })).toString("base64url")
      : null;
  return { items, nextCursor };
}

/** Changes a customer at version `expected` (null: any); 404 or 412 when that is not the stored one. */
export async function updateCustomer(
  tx: repo.Db,
  id: string,
  expected: number | null,
  patch: CustomerPatch,
): Promise<Customer> {
  const updated = await repo.updateCustomer(tx, id, expected, patch);
  if (updated) return updated;
  throw await refusal(tx, id, expected);
}

/** Deletes a customer at version `expected` (null: any); 404 or 412 otherwise. */
export async function deleteCustomer(tx: repo.Db, id: string, expected: number | null): Promise<void> {
  if (await repo.deleteCustomer(tx, id, expected)) return;
  throw await refusal(tx, id, expected);
}

async function refusal(db: repo.Db, id: string, expected: number | null): Promise<Error> {
  const current = await repo.currentVersion(db, id);
  return current === null ? customerNotFound(id) : customerStale(id, expected ?? 0, current);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function decodeCursor(cursor: string): { createdAt: string; id: string } {
  try {
    const c = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    if (typeof c.createdAt === "string" && !Number.isNaN(Date.parse(c.createdAt)) && UUID.test(c.id)) return c;
  } catch {}
  throw hubError("HUB_ERR_BAD_CURSOR", "cursor is not one this API returned");
}
