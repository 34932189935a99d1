import { Injectable, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';

/**
 * Express 5 parses query strings "simple" by default, so `metadata[team]=idm` arrives as a key named
 * `metadata[team]`. The registry's list filters take nested and repeated parameters (`metadata[k]=v`,
 * `tag=a&tag=b`), so this app parses them the "extended" (qs) way, as Express 4 did. The validation
 * pipe still rejects any parameter a query DTO does not declare.
 */
@Injectable()
export class ExtendedQueryParser implements OnModuleInit {
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  onModuleInit(): void {
    const instance = this.adapterHost.httpAdapter?.getInstance?.() as { set?: (name: string, value: unknown) => void } | undefined;
    instance?.set?.('query parser', 'extended');
  }
}
