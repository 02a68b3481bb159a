import type { Queryable } from "../../db/queryable.js";
import { versionCondition } from "../../platform/locking.js";
import type { Customer, CustomerCreate, CustomerPatch } from "./schemas.js";

/** Anything that runs a query: the pool, or the request's transaction. */
export type Db = Queryable;

interface CustomerRow {
  id: string;
  name: string;
  email: string | null;
  phone: string | null;
  street: string | null;
  postal_code: string | null;
  city: string | null;
  country: string;
  vat_id: string | null;
  notes: string | null;
  version: number;
  created_at: Date;
  updated_at: Date;
}

/** API field → column, for every editable field. */
const COLUMNS: Record<keyof CustomerCreate, string> = {
  name: "name",
  email: "email",
  phone: "phone",
  street: "street",
  postalCode: "postal_code",
  city: "city",
  country: "country",
  vatId: "vat_id",
  notes: "notes",
};

const toCustomer = (r: CustomerRow): Customer => ({
  id: r.id,
  name: r.name,
  email: r.email,
  phone: r.phone,
  street: r.street,
  postalCode: r.postal_code,
  city: r.city,
  country: r.country,
  vatId: r.vat_id,
  notes: r.notes,
  version: r.version,
  createdAt: r.created_at.toISOString(),
  updatedAt: r.updated_at.toISOString(),
});

/** Inserts a customer (version 1). */
export async function insertCustomer(db: Db, input: CustomerCreate): Promise<Customer> {
  const entries = Object.entries(input).filter(([k, v]) => k in COLUMNS && v !== undefined);
  const { rows } = await db.query<CustomerRow>(
    `INSERT INTO erp.customers (${entries.map(([k]) => COLUMNS[k as keyof CustomerCreate]).join(", ")})
     VALUES (${entries.map((_, i) => `$${i + 1}`).join(", ")}) RETURNING *`,
    entries.map(([, v]) => v),
  );
  return toCustomer(rows[0] as CustomerRow);
}

/** One customer, or null. */
export async function findCustomer(db: Db, id: string): Promise<Customer | null> {
  const { rows } = await db.query<CustomerRow>("SELECT * FROM erp.customers WHERE id = $1", [id]);
  return rows[0] ? toCustomer(rows[0]) : null;
}

/** The stored version of a customer, or null when there is none. */
export async function currentVersion(db: Db, id: string): Promise<number | null> {
  const { rows } = await db.query<{ version: number }>("SELECT version FROM erp.customers WHERE id = $1", [id]);
  return rows[0]?.version ?? null;
}

/** A page of customers ordered by (created_at, id), after the cursor position. */
export async function listCustomers(
  db: Db,
  page: { limit: number; after?: { createdAt: string; id: string } },
): Promise<Customer[]> {
  const { rows } = page.after
    ? await db.query<CustomerRow>(
        "SELECT * FROM erp.customers WHERE (created_at, id) > ($1::timestamptz, $2::uuid) ORDER BY created_at, id LIMIT $3",
        [page.after.createdAt, page.after.id, page.limit],
      )
    : await db.query<CustomerRow>("SELECT * FROM erp.customers ORDER BY created_at, id LIMIT $1", [page.limit]);
  return rows.map(toCustomer);
}

/**
 * Applies `patch` if the stored version is `expected` (null: any), in one statement; null when
 * nothing matched (no such customer, or another version).
 */
export async function updateCustomer(
  db: Db,
  id: string,
  expected: number | null,
  patch: CustomerPatch,
): Promise<Customer | null> {
  const entries = Object.entries(patch).filter(([k, v]) => k in COLUMNS && v !== undefined);
  const sets = entries.map(([k], i) => `${COLUMNS[k as keyof CustomerCreate]} = $${i + 3}`);
  const { rows } = await db.query<CustomerRow>(
    `UPDATE erp.customers SET ${[...sets, "version = version + 1", "updated_at = now()"].join(", ")}
     WHERE id = $1 AND ${versionCondition(2)} RETURNING *`,
    [id, expected, ...entries.map(([, v]) => v)],
  );
  return rows[0] ? toCustomer(rows[0]) : null;
}

/** Deletes the customer if the stored version is `expected` (null: any); false when nothing matched. */
export async function deleteCustomer(db: Db, id: string, expected: number | null): Promise<boolean> {
  const { rowCount } = await db.query(`DELETE FROM erp.customers WHERE id = $1 AND ${versionCondition(2)}`, [
    id,
    expected,
  ]);
  return rowCount === 1;
}
