/**
 * RFC 4180 CSV. Text cells that a spreadsheet would run as a formula (starting with = + - @, tab or
 * CR) get a leading apostrophe (OWASP's CSV-injection advice): names and references come from users.
 * Numbers and money are written as they are, so "-1234" stays a number.
 */
export type Cell = string | number | bigint | boolean | Date | null | undefined;

function cell(value: Cell, isText: boolean): string {
  if (value === null || value === undefined) return '';
  let text = value instanceof Date ? value.toISOString() : String(value);
  if (isText && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function toCsv(columns: { name: string; text?: boolean }[], rows: Cell[][]): string {
  const lines = [columns.map((c) => cell(c.name, true)).join(',')];
  for (const row of rows) lines.push(row.map((v, i) => cell(v, columns[i]?.text ?? false)).join(','));
  return `${lines.join('\r\n')}\r\n`;
}
