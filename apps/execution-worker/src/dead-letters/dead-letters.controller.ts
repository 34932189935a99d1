import { Body, Controller, Delete, Get, HttpCode, Param, ParseUUIDPipe, Post, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { IsIn, IsISO8601, IsOptional, IsString, IsUUID, Matches, MaxLength, MinLength } from 'class-validator';
import { Permission } from '@provisio/contracts';
import { ApiErrors, CurrentPrincipal, PageQueryDto, Principal, RequirePermission, ValidationError } from '@provisio/platform';
import { DeadLettersService, MAX_BULK_DEAD_LETTERS } from './dead-letters.service';

/** The filters of bulk replay and discard: every one given must match. */
export class DeadLetterFiltersDto {
  @ApiPropertyOptional({ format: 'uuid' })
  @IsOptional()
  @IsUUID()
  script_id?: string;

  @ApiPropertyOptional({ example: 'user.created' })
  @IsOptional()
  @IsString()
  @Matches(/^[a-z][a-z0-9_.]*$/)
  @MaxLength(255)
  event_type?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'dead-lettered at or after' })
  @IsOptional()
  @IsISO8601({ strict: true })
  from?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'dead-lettered before' })
  @IsOptional()
  @IsISO8601({ strict: true })
  to?: string;

  @ApiPropertyOptional({ description: 'The error contains this text (case-insensitive, no wildcards).', example: 'ECONNREFUSED' })
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(1000)
  error_contains?: string;
}

export class ReplayDeadLettersDto extends DeadLetterFiltersDto {
  @ApiProperty({ enum: ['original', 'latest'], description: 'original: the version that failed (only while it is the live one); latest: the live version, after a fix.' })
  @IsIn(['original', 'latest'])
  version: 'original' | 'latest';
}

export class ReplayAnswerDto {
  @ApiProperty({ description: `How many were replayed (at most ${MAX_BULK_DEAD_LETTERS} per request).` }) replayed: number;
  @ApiProperty({ type: [String], description: 'The new executions, one per replayed dead letter.' }) execution_ids: string[];
  @ApiProperty({ type: 'array', items: { type: 'object', properties: { dead_letter_id: { type: 'string' }, reason: { type: 'string' } } }, description: 'Matched but not replayed (version original, and another version is live).' })
  not_replayed: { dead_letter_id: string; reason: string }[];
  @ApiProperty({ description: 'Matching dead letters left for another request.' }) remaining: number;
}

export class DiscardAnswerDto {
  @ApiProperty() discarded: number;
  @ApiProperty({ description: 'Matching dead letters left for another request.' }) remaining: number;
}

function checkRange(filters: DeadLetterFiltersDto): void {
  if (filters.from && filters.to && Date.parse(filters.to) <= Date.parse(filters.from)) throw new ValidationError('to must be later than from', 'to');
}

export class ListDeadLettersQuery extends PageQueryDto {
  @ApiPropertyOptional({ format: 'uuid' }) @IsOptional() @IsUUID() script_id?: string;
  @ApiPropertyOptional({ example: 'user.created' }) @IsOptional() @IsString() @Matches(/^[a-z][a-z0-9_.]*$/) @MaxLength(255) event_type?: string;
  @ApiPropertyOptional({ format: 'date-time' }) @IsOptional() @IsISO8601({ strict: true }) from?: string;
  @ApiPropertyOptional({ format: 'date-time' }) @IsOptional() @IsISO8601({ strict: true }) to?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @MinLength(1) @MaxLength(1000) error_contains?: string;
}

@ApiTags('dead letters')
@Controller('dead-letters')
export class DeadLettersController {
  constructor(private readonly deadLetters: DeadLettersService) {}

  @Get()
  @ApiOperation({ summary: 'Event-triggered runs that failed every attempt' })
  @RequirePermission(Permission.ScriptExecutionRead)
  list(@CurrentPrincipal() principal: Principal, @Query() query: ListDeadLettersQuery) {
    return this.deadLetters.list(principal.tenantId, query);
  }

  @Post('replay')
  @HttpCode(200)
  @ApiOperation({ summary: 'Replay the matching dead letters, each at most once; one that fails again comes back with its count raised. Audited.' })
  @ApiOkResponse({ type: ReplayAnswerDto })
  @ApiErrors()
  @RequirePermission(Permission.ScriptExecutionManage)
  replay(@CurrentPrincipal() principal: Principal, @Body() body: ReplayDeadLettersDto) {
    checkRange(body);
    const { version, ...filters } = body;
    return this.deadLetters.replay(principal.tenantId, filters, version, principal.subject);
  }

  @Post('discard')
  @HttpCode(200)
  @ApiOperation({ summary: 'Delete the matching dead letters. Audited.' })
  @ApiOkResponse({ type: DiscardAnswerDto })
  @ApiErrors()
  @RequirePermission(Permission.ScriptExecutionManage)
  discardMatching(@CurrentPrincipal() principal: Principal, @Body() body: DeadLetterFiltersDto) {
    checkRange(body);
    return this.deadLetters.discardMatching(principal.tenantId, { ...body }, principal.subject);
  }

  @Get(':id')
  @RequirePermission(Permission.ScriptExecutionRead)
  get(@CurrentPrincipal() principal: Principal, @Param('id', new ParseUUIDPipe()) id: string) {
    return this.deadLetters.get(principal.tenantId, id);
  }

  @Post(':id/retry')
  @HttpCode(202)
  @ApiOperation({ summary: 'Run the dead-lettered event again (a new execution with full attempts)' })
  @RequirePermission(Permission.ScriptExecutionManage)
  retry(@CurrentPrincipal() principal: Principal, @Param('id', new ParseUUIDPipe()) id: string) {
    return this.deadLetters.retry(principal.tenantId, id, principal.subject);
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Discard a dead letter' })
  @RequirePermission(Permission.ScriptExecutionManage)
  async discard(@CurrentPrincipal() principal: Principal, @Param('id', new ParseUUIDPipe()) id: string): Promise<void> {
    await this.deadLetters.discard(principal.tenantId, id);
  }
}
