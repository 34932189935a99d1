/** CloudEvents `source` of what the execution worker announces (runs finished, dead letters). */
export const EXECUTION_SOURCE = 'provisio/execution-worker';
