import { Body, Controller, HttpCode, HttpStatus, Param, Post, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { Permission } from '@provisio/contracts';
import { CurrentPrincipal, Principal, RequirePermission } from '@provisio/platform';
import { ApiErrors } from '../common/api-docs';
import { UuidParam } from '../common/params';
import { pickSource } from '../versions/script-versions.service';
import { DryRunResultDto, DryRunSourceDto, DryRunStoredDto, SourceDto, ValidationResultDto, VersionQueryDto } from './dtos/validation.dto';
import { DryRunService } from './dry-run.service';
import { ValidationService } from './validation.service';

/** Validation (compile only, `script:read`) and dry runs (run without side effects, `script:execute`). */
@ApiTags('validation')
@Controller('scripts')
export class ValidationController {
  constructor(
    private readonly validation: ValidationService,
    private readonly dryRuns: DryRunService,
  ) {}

  @Post('validate')
  @HttpCode(HttpStatus.OK)
  @RequirePermission(Permission.ScriptRead)
  @ApiOperation({ summary: 'Validate a source without saving or running it: syntax errors with line and column, warnings' })
  @ApiOkResponse({ type: ValidationResultDto, description: 'Also when the source is invalid: `valid: false` and the errors.' })
  @ApiErrors()
  validate(@Body() body: SourceDto): Promise<ValidationResultDto> {
    return this.validation.validate(pickSource(body)!);
  }

  @Post('dry-run')
  @HttpCode(HttpStatus.OK)
  @RequirePermission(Permission.ScriptExecute)
  @ApiOperation({ summary: 'Run an unsaved source with a context, without side effects (fetch is recorded, never sent)' })
  @ApiOkResponse({ type: DryRunResultDto, description: 'Also when the script fails: `success: false` and the error.' })
  @ApiErrors(404)
  dryRunSource(@CurrentPrincipal() principal: Principal, @Body() body: DryRunSourceDto): Promise<DryRunResultDto> {
    return this.dryRuns.runSource(principal, pickSource(body)!, body.context, body.script_id);
  }

  @Post(':id/validate')
  @HttpCode(HttpStatus.OK)
  @RequirePermission(Permission.ScriptRead)
  @ApiOperation({ summary: "Validate a stored script's live version (or `?version=n`)" })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOkResponse({ type: ValidationResultDto })
  @ApiErrors(404)
  validateStored(@CurrentPrincipal() principal: Principal, @Param('id', UuidParam) id: string, @Query() query: VersionQueryDto): Promise<ValidationResultDto> {
    return this.validation.validateStored(principal, id, query.version);
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
