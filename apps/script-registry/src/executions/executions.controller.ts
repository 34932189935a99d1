import { Body, Controller, Get, Headers, HttpCode, Param, Post, Query, Req, Res } from '@nestjs/common';
import { ApiAcceptedResponse, ApiHeader, ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { Permission } from '@provisio/contracts';
import { ApiErrors, CurrentPrincipal, Principal, RequirePermission, UuidParam } from '@provisio/platform';
import { ExecutionDetailDto, ExecutionDto, ExecutionFeedPageDto, ExecutionFeedQueryDto, ExecutionPageDto, ExecutionStreamQueryDto, GetExecutionQueryDto, ListExecutionsQueryDto, RunScriptDto } from './dtos/execution.dto';
import { ExecutionFeedService, FeedPage } from './execution-feed.service';
import { ExecutionsService } from './executions.service';

/** How often an open stream looks for new records, and sends a comment so proxies keep it open. */
const STREAM_POLL_MS = 500;
const STREAM_KEEPALIVE_MS = 15_000;

/**
 * The header a person's tool sends (`provisio` CLI: `cli`, a console: `console`): its runs are `manual`,
 * every other call's `api`. It labels provenance only: the permissions checked are the same.
 */
export const CLIENT_HEADER = 'x-provisio-client';
const PERSON_CLIENTS = new Set(['cli', 'console']);

@ApiTags('executions')
@Controller()
export class ExecutionsController {
  constructor(
    private readonly executions: ExecutionsService,
    private readonly feed: ExecutionFeedService,
  ) {}

  @Post('scripts/:id/executions')
  @HttpCode(202)
  @RequirePermission(Permission.ScriptExecute)
  @ApiOperation({
    summary: "Runs the script now: checks `input` against its parameters, records a pending execution and answers it; the execution worker runs it. Needs the script's required_permissions too.",
  })
  @ApiHeader({ name: CLIENT_HEADER, required: false, description: '`cli` or `console` when a person starts the run (trigger `manual`); otherwise the trigger is `api`.' })
  @ApiAcceptedResponse({ type: ExecutionDto })
  @ApiErrors(404, 409)
  run(@CurrentPrincipal() principal: Principal, @Param('id', UuidParam) id: string, @Body() body: RunScriptDto, @Headers(CLIENT_HEADER) client?: string): Promise<ExecutionDto> {
    return this.executions.run(principal, id, body.input ?? {}, PERSON_CLIENTS.has(String(client ?? '').toLowerCase()) ? 'manual' : 'api');
  }

  @Get('executions')
  @RequirePermission(Permission.ScriptExecutionRead)
  @ApiOperation({ summary: 'Executions of every status, newest first, with filters' })
  @ApiOkResponse({ type: ExecutionPageDto })
  @ApiErrors()
  list(@CurrentPrincipal() principal: Principal, @Query() query: ListExecutionsQueryDto) {
    return this.executions.list(principal, query);
  }

  @Get('executions/feed')
  @RequirePermission(Permission.ScriptExecutionRead)
  @ApiOperation({
    summary:
      'Finished executions in the order they were recorded, after a keyset cursor (`after`; default: from now on), with the filters of the list. Each record once; records show up ~2 s after they finish.',
  })
  @ApiOkResponse({ type: ExecutionFeedPageDto })
  @ApiErrors()
  feedPage(@CurrentPrincipal() principal: Principal, @Query() query: ExecutionFeedQueryDto): Promise<FeedPage> {
    return this.feed.page(principal, query);
  }

  @Get('executions/stream')
  @RequirePermission(Permission.ScriptExecutionRead)
  @ApiOperation({
    summary:
      'The feed as Server-Sent Events (`text/event-stream`): one `execution` event per record (its `id` is the cursor), from `after` or `Last-Event-ID` (a reconnecting client resumes where it was), else from now on; `max_seconds` closes it.',
  })
  @ApiHeader({ name: 'Last-Event-ID', required: false, description: 'The `id` of the last event received: the stream resumes after it.' })
  @ApiProduces('text/event-stream')
  @ApiOkResponse({ description: '`event: ready` (data: `{ cursor }`), then `event: execution` (data: an execution with its `cursor`); `: keep-alive` comments every 15 s.' })
  @ApiErrors()
  async stream(
    @CurrentPrincipal() principal: Principal,
    @Query() query: ExecutionStreamQueryDto,
    @Headers('last-event-id') lastEventId: string | undefined,
    @Req() request: Request,
    @Res() response: Response,
  ): Promise<void> {
    // A bad cursor is a 400 before the stream opens.
    let cursor = lastEventId ? this.feed.check(lastEventId, 'Last-Event-ID') : query.after ? this.feed.check(query.after) : await this.feed.start(principal);
    let open = true;
    request.on('close', () => (open = false));
    const closeAt = query.max_seconds ? Date.now() + query.max_seconds * 1000 : Infinity;
    response.status(200).set({ 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache, no-transform', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    response.flushHeaders();
    response.write(`retry: 2000\nevent: ready\ndata: ${JSON.stringify({ cursor })}\n\n`);
    let quietSince = Date.now();
    while (open && Date.now() < closeAt) {
      let page: FeedPage;
      try {
        page = await this.feed.page(principal, query, cursor);
      } catch (error) {
        // The client reconnects (retry) and resumes from its last event.
        response.write(`event: error\ndata: ${JSON.stringify({ message: (error as Error).message.slice(0, 200) })}\n\n`);
        break;
      }
      for (const item of page.items) response.write(`id: ${item.cursor}\nevent: execution\ndata: ${JSON.stringify(item)}\n\n`);
      cursor = page.cursor;
      if (page.items.length) quietSince = Date.now();
      else if (Date.now() - quietSince >= STREAM_KEEPALIVE_MS) {
        response.write(': keep-alive\n\n');
        quietSince = Date.now();
      }
      // A full page: more is waiting, read on at once.
      if (page.items.length < (query.limit ?? 100)) await new Promise((resolve) => setTimeout(resolve, Math.max(0, Math.min(STREAM_POLL_MS, closeAt - Date.now()))));
    }
    response.end();
  }

  @Get('executions/:id')
  @RequirePermission(Permission.ScriptExecutionRead)
  @ApiOperation({ summary: 'One execution with its logs; `?wait=30` waits up to that many seconds for it to finish' })
  @ApiOkResponse({ type: ExecutionDetailDto })
  @ApiErrors(404)
  get(@CurrentPrincipal() principal: Principal, @Param('id', UuidParam) id: string, @Query() query: GetExecutionQueryDto): Promise<ExecutionDetailDto> {
    return this.executions.get(principal, id, query.wait ?? 0);
  }

  @Post('executions/:id/cancel')
  @HttpCode(200)
  @RequirePermission(Permission.ScriptExecute)
  @ApiOperation({ summary: 'Cancels a pending or running execution (it ends `cancelled`, with who cancelled it); a finished one is 409' })
  @ApiOkResponse({ type: ExecutionDto })
  @ApiErrors(404, 409)
  cancel(@CurrentPrincipal() principal: Principal, @Param('id', UuidParam) id: string): Promise<ExecutionDto> {
    return this.executions.cancel(principal, id);
  }
}
