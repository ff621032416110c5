/**
 * One CSV record (RFC 4180): cells quoted where they hold a quote, comma or line break; null is
 * empty. Every record ends with CRLF, the last one too (RFC 4180 §2.2 allows it; importers expect it).
 */
export function csvRecord(cells: readonly unknown[]): string {
  const cell = (v: unknown) => {
    const s = v === null || v === undefined ? "" : String(v);
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return `${cells.map(cell).join(",")}\r\n`;
}
