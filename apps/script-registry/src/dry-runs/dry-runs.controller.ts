import { Body, Controller, HttpCode, HttpStatus, Param, Post } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { Permission } from '@provisio/contracts';
import { CurrentPrincipal, Principal, RequirePermission, ApiErrors, UuidParam } from '@provisio/platform';
import { pickSource } from '../versions/script-versions.service';
import { DryRunService } from './dry-run.service';
import { DryRunResultDto, DryRunSourceDto, DryRunStoredDto } from './dtos/dry-run.dto';

/** Dry runs: run a script without side effects, `script:execute`. */
@ApiTags('validation')
@Controller('scripts')
export class DryRunsController {
  constructor(private readonly dryRuns: DryRunService) {}

  @Post('dry-run')
  @HttpCode(HttpStatus.OK)
  @RequirePermission(Permission.ScriptExecute)
  @ApiOperation({ summary: 'Run an unsaved source with a context, without side effects (fetch is recorded, never sent)' })
  @ApiOkResponse({ type: DryRunResultDto, description: 'Also when the script fails: `success: false` and the error.' })
  @ApiErrors(404, 429)
  dryRunSource(@CurrentPrincipal() principal: Principal, @Body() body: DryRunSourceDto): Promise<DryRunResultDto> {
    // Beyond the unsaved dry-run caps: 429, the error filter adding Retry-After.
    return this.dryRuns.runSource(principal, pickSource(body)!, body.context, body.script_id);
  }

  @Post(':id/dry-run')
  @HttpCode(HttpStatus.OK)
  @RequirePermission(Permission.ScriptExecute)
  @ApiOperation({ summary: "Dry-run a stored script's live version (or `version`), recorded as an execution with dry_run = true" })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOkResponse({ type: DryRunResultDto })
  @ApiErrors(404)
  dryRunStored(@CurrentPrincipal() principal: Principal, @Param('id', UuidParam) id: string, @Body() body: DryRunStoredDto): Promise<DryRunResultDto> {
    return this.dryRuns.runStored(principal, id, body.context, body.version);
  }
}
