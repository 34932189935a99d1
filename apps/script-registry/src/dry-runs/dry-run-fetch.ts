import type { FetchImpl, SandboxFetchRequest, SandboxFetchResponse } from '@provisio/sandbox';

/** Status a dry run's `fetch` answers: outside the range real servers use, so a script can tell. */
export const DRY_RUN_FETCH_STATUS = 599;

/** What a dry run reports of each `fetch` the script attempted (never sent). */
export interface RecordedFetch {
  method: string;
  url: string;
  /** Header names only: values may carry credentials. */
  header_names: string[];
  body_bytes: number;
}

const MAX_RECORDED = 100;

/**
 * The `fetchImpl` of a dry run: `fetch` inside the script never reaches the network. The sandbox applies
 * its URL rules and rate limit first (a refused destination still rejects with `fetch refused: ...`, as in
 * a live run); what passes them comes here, is recorded, and is answered `599` with a JSON body saying the
 * request was not sent (header `x-provisio-dry-run: true`).
 */
export function dryRunFetch(): { fetchImpl: FetchImpl; requests: RecordedFetch[] } {
  const requests: RecordedFetch[] = [];
  const fetchImpl: FetchImpl = (request: SandboxFetchRequest): SandboxFetchResponse => {
    if (requests.length < MAX_RECORDED) {
      requests.push({
        method: request.method,
        url: request.url,
        header_names: Object.keys(request.headers ?? {}).sort(),
        body_bytes: request.body === null ? 0 : Buffer.byteLength(request.body),
      });
    }
    return {
      status: DRY_RUN_FETCH_STATUS,
      headers: { 'content-type': 'application/json', 'x-provisio-dry-run': 'true' },
      body: JSON.stringify({
        error: 'dry_run',
        message: `dry run: ${request.method} ${request.url} was recorded, not sent`,
      }),
    };
  };
  return { fetchImpl, requests };
}
