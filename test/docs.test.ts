/** Every error code a user can meet is documented in README.md. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { EDGE_ERRORS } from "@steinmetz/edge";
import { HUB_ERRORS } from "@steinmetz/hub";
import t from "tap";

const readme = readFileSync(join(import.meta.dirname, "../README.md"), "utf8");

t.test("every EDGE_ERR_* and HUB_ERR_* code has a row in the README's error table", async (t) => {
  for (const code of [...Object.keys(EDGE_ERRORS), ...Object.keys(HUB_ERRORS)]) {
    t.match(readme, new RegExp(`^\\| \`${code}\`\\s*\\|`, "m"), code);
  }
});
