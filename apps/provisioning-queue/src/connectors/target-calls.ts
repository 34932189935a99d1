import { HttpException, HttpStatus } from '@nestjs/common';
import { Connector, ConnectorError, ConnectorErrorCode, isConnectorError } from '@provisio/connectors';

/** A target system failed or refused a call the API made for its caller: 502, with the connector's code. */
export class TargetCallFailed extends HttpException {
  constructor(error: ConnectorError) {
    super({ code: 'target_error', message: `the target refused or failed: ${error.code}: ${error.message}` }, HttpStatus.BAD_GATEWAY);
  }
}

/**
 * The connector's mapping script gave no attributes for a preview: 422 naming the script and why (it
 * threw, timed out, answered something that is not attributes, or is gone), or 503 when it could not
 * run at all now (the sandbox is full).
 */
export class MappingScriptRejected extends HttpException {
  constructor(error: { message: string; transient: boolean }) {
    super(
      { code: error.transient ? 'mapping_script_unavailable' : 'mapping_script_failed', message: error.message, field: 'mapping_script_id' },
      error.transient ? HttpStatus.SERVICE_UNAVAILABLE : HttpStatus.UNPROCESSABLE_ENTITY,
    );
  }
}

/**
 * Runs one call on a connector built for it and closes the connector afterwards, whatever happens. The
 * call is bounded by `timeoutMs` on top of the connector's own limits, so a request never hangs on a
 * target; a timeout is a ConnectorError Timeout like any other.
 */
export async function callOnce<T>(connector: Connector, timeoutMs: number, call: (connector: Connector) => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ConnectorError(ConnectorErrorCode.Timeout, `no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([call(connector), timeout]);
  } finally {
    clearTimeout(timer);
    await connector.close().catch(() => undefined);
  }
}

export function asConnectorError(error: unknown): ConnectorError {
  return isConnectorError(error) ? error : new ConnectorError(ConnectorErrorCode.ServerError, (error as Error)?.message ?? String(error));
}
