/**
 * Inlining a statement's parameters for the unit of work's first message: the same values pg
 * would send, escaped; anything it cannot be sure of is left to a statement of its own.
 */
import pg from "pg";
import t from "tap";
import { inlineParameters } from "../src/platform/unit-of-work.js";

const inline = (text: string, values?: unknown[]) => inlineParameters(text, values, pg.escapeLiteral);

t.test("parameters become escaped literals", async (t) => {
  const name = "O'Brien \\ Söhne"; // one backslash
  t.equal(pg.escapeLiteral(name), " E'O''Brien \\\\ Söhne'", "quotes doubled, the backslash escaped");
  t.equal(
    inline("UPDATE erp.customers SET name = $2 WHERE id = $1 AND ($3::integer IS NULL OR version = $3)", [
      "8a0f",
      name,
      null,
    ]),
    `UPDATE erp.customers SET name = ${pg.escapeLiteral(name)} WHERE id = '8a0f' AND (NULL::integer IS NULL OR version = NULL)`,
  );
  t.equal(
    inline("SELECT $1, $2, $10", [1, true, 3, 4, 5, 6, 7, 8, 9, 10]),
    "SELECT '1', 'true', '10'",
    "$10 is not $1",
  );
  t.equal(inline("SELECT $1", [[1, 2]]), 'SELECT \'{"1","2"}\'', "arrays as pg sends them");
  t.equal(inline("SELECT $1", [{ a: 1 }]), `SELECT '{"a":1}'`, "objects as JSON");
  t.equal(inline("SELECT $1", [undefined]), "SELECT NULL");
  t.equal(inline("SELECT 1"), "SELECT 1");
});

t.test("what is not certain to stay the same statement is not inlined", async (t) => {
  t.equal(inline("SELECT 'a' || $1", ["b"]), undefined, "a quote");
  t.equal(inline('SELECT "x" FROM t WHERE y = $1', ["b"]), undefined, "a quoted identifier");
  t.equal(inline("SELECT $1 -- $2", ["a", "b"]), undefined, "a line comment");
  t.equal(inline("SELECT $1 /* $2 */", ["a", "b"]), undefined, "a block comment");
  t.equal(inline("SELECT $$x$$ || $1", ["a"]), undefined, "dollar quoting");
  t.equal(inline("SELECT $1, $2", ["a"]), undefined, "a missing value");
  t.equal(inline("SELECT $1", [Buffer.from("x")]), undefined, "a binary value");
});
