/** The CHECK expression `column IN ('a', 'b')` for an enum list (documentation of the migration's check). */
export function checkIn(column: string, values: readonly string[]): string {
  return `${column} IN (${values.map((v) => `'${v}'`).join(', ')})`;
}
