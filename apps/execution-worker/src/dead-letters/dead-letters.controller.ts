import { Controller, Delete, Get, HttpCode, Param, ParseUUIDPipe, Post, Query } from '@nestjs/common';
import { ApiOperation, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { IsOptional, IsString, IsUUID, Matches } from 'class-validator';
import { Permission } from '@provisio/contracts';
import { CurrentPrincipal, PageQueryDto, Principal, RequirePermission } from '@provisio/platform';
import { DeadLettersService } from './dead-letters.service';

export class ListDeadLettersQuery extends PageQueryDto {
  @ApiPropertyOptional({ format: 'uuid' })
  @IsOptional()
  @IsUUID()
  script_id?: string;

  @ApiPropertyOptional({ example: 'user.created' })
  @IsOptional()
  @IsString()
  @Matches(/^[a-z][a-z0-9_.]*$/)
  event_type?: string;
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
