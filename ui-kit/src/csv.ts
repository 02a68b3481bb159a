/**
 * CSV as German Excel opens it: `;` between fields, decimal comma, UTF-8 with a byte order mark,
 * CRLF line ends; a field with `;`, a quote or a line break is quoted (quotes doubled), and one
 * starting with `=`, `+`, `-` or `@` (a formula to a spreadsheet) gets a leading apostrophe.
 */

/** A cell: text, a number (written with a decimal comma), a boolean, or empty. */
export type CsvCell = string | number | boolean | null | undefined;

const quote = (text: string) => (/[;"\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text);

function cell(value: CsvCell, yes: string, no: string): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "number") return Number.isFinite(value) ? String(value).replace(".", ",") : "";
  if (typeof value === "boolean") return value ? yes : no;
  return quote(/^[=+\-@]/.test(value) ? `'${value}` : value);
}

/** The file's text (with the byte order mark) of a header row and rows. */
export function excelCsv(header: string[], rows: CsvCell[][], words = { yes: "ja", no: "nein" }): string {
  const lines = [
    header.map((h) => cell(h, words.yes, words.no)),
    ...rows.map((r) => r.map((c) => cell(c, words.yes, words.no))),
  ];
  return `\uFEFF${lines.map((l) => l.join(";")).join("\r\n")}\r\n`;
}
