/**
 * The SQLSTATE of a PostgreSQL error, whichever way it reached us: the pg driver's error carries it as `code`,
 * TypeORM's QueryFailedError as `code` or on its `driverError`. Undefined for anything else.
 */
export function sqlState(e: unknown): string | undefined {
  const err = e as { code?: unknown; driverError?: { code?: unknown } } | null;
  const code = err?.code ?? err?.driverError?.code;
  return typeof code === 'string' ? code : undefined;
}
