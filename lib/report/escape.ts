/**
 * Escaping for what clipcmp writes from untrusted text (file and folder names, dataset names, labels, messages
 * quoting input files), so output cannot be turned against its reader:
 * - CSV cells are quoted as RFC 4180 says, and a cell that starts like a spreadsheet formula (`=`, `+`, `-`, `@`,
 *   tab, carriage return) gets a leading `'` so it is shown as text;
 * - Markdown text has HTML's `& < >` as entities and Markdown's markup characters backslash-escaped;
 * - terminal text has control characters (ESC sequences, carriage returns, line breaks) shown as `\xNN`.
 *
 * @module
 */

/**
 * One CSV cell. Numbers are written as they are.
 *
 * @example
 * ```ts
 * import { csvCell } from "./escape.ts";
 * if (csvCell('a,"b"') !== '"a,""b"""' || csvCell("=1+1") !== "'=1+1" || csvCell(3) !== "3") throw new Error();
 * ```
 * @param v The value.
 * @returns The cell text.
 */
export function csvCell(v: string | number): string {
  if (typeof v === "number") return String(v);
  let s = v;
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** One CSV row of cells. */
export function csvRow(cells: readonly (string | number)[]): string {
  return cells.map(csvCell).join(",");
}

/**
 * Text to put inside Markdown (a table cell or a list item) so that it shows as written.
 *
 * @example
 * ```ts
 * import { mdText } from "./escape.ts";
 * if (mdText("<img src=x>|*a*") !== "&lt;img src=x&gt;\\|\\*a\\*") throw new Error(mdText("<img src=x>|*a*"));
 * ```
 * @param s The text.
 * @returns Escaped Markdown.
 */
export function mdText(s: string): string {
  return plainText(s).replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;")
    .replace(/[\\`*_[\]|#]/g, "\\$&");
}

/**
 * Text with control characters made visible, for one-line terminal messages.
 *
 * @example
 * ```ts
 * import { plainText } from "./escape.ts";
 * if (plainText("a\x1b[2Jb\nc") !== "a\\x1b[2Jb\\x0ac") throw new Error();
 * ```
 * @param s The text.
 * @returns The text with C0/C1 controls and DEL as `\xNN`.
 */
export function plainText(s: string): string {
  // deno-lint-ignore no-control-regex
  return s.replace(/[\x00-\x08\x0a-\x1f\x7f-\x9f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

/** The inverse of {@linkcode mdText}, for renderers that take Markdown lines back to plain text. */
export function mdUnescape(s: string): string {
  return s.replace(/\\([\\`*_[\]|#])/g, "$1").replaceAll("&lt;", "<").replaceAll("&gt;", ">").replaceAll("&amp;", "&");
}
