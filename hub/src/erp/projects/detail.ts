import { Type } from "@sinclair/typebox";
import type { Queryable } from "../../db/queryable.js";

/** What `GET /api/v1/projects/{id}` shows beside the project: hours booked, material used and reserved. */
export const projectDetailSchema = {
  bookedHours: Type.Number({ description: "sum of the project's time bookings (corrections included)" }),
  material: Type.Array(
    Type.Object({
      articleId: Type.String({ format: "uuid" }),
      articleNumber: Type.String(),
      articleName: Type.String(),
      used: Type.Number({ description: "issued to the project less what it returned" }),
      reserved: Type.Number({ description: "still reserved for it in the warehouses" }),
    }),
  ),
};

/** Loads a project's booked hours and its material (issued less returned, and still reserved), per article. */
export async function loadProjectDetail(db: Queryable, project: { id: string }) {
  const [hours, material] = await Promise.all([
    db.query<{ h: string }>("SELECT coalesce(sum(hours), 0) AS h FROM erp.time_bookings WHERE project_id = $1", [
      project.id,
    ]),
    db.query(
      `SELECT a.id, a.number, a.name, coalesce(ps.quantity, 0) AS used, coalesce(r.reserved, 0) AS reserved
       FROM erp.articles a
       LEFT JOIN erp.project_stock ps ON ps.article_id = a.id AND ps.project_id = $1
       LEFT JOIN (SELECT article_id, sum(quantity) AS reserved FROM erp.reservations WHERE project_id = $1 GROUP BY 1) r
         ON r.article_id = a.id
       WHERE ps.quantity > 0 OR r.reserved > 0 ORDER BY a.number`,
      [project.id],
    ),
  ]);
  return {
    bookedHours: Number(hours.rows[0]?.h ?? 0),
    material: material.rows.map((m) => ({
      articleId: m.id,
      articleNumber: m.number,
      articleName: m.name,
      used: Number(m.used),
      reserved: Number(m.reserved),
    })),
  };
}
