/**
 * Columns sized to their content, so a long host name pushes its column out
 * instead of shifting the rest of its row. Pure: rows of cells in, lines out.
 */

/**
 * Each cell is padded to the widest cell of its column; a row's last cell is not
 * padded (no trailing blanks) and takes no part in sizing, so a row may end early
 * with a free-text cell (an error, a note) that spans the columns after it.
 * Widths count UTF-16 units: the cells are host names, ids and hashes.
 */
export function alignColumns(rows: readonly (readonly string[])[], gap = '  '): string[] {
  const widths: number[] = [];
  for (const row of rows) {
    row.slice(0, -1).forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length);
    });
  }
  return rows.map((row) => row.map((cell, i) => (i < row.length - 1 ? cell.padEnd(widths[i]!) : cell)).join(gap));
}
