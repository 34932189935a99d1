import { Body, Controller, HttpCode, HttpStatus, Param, Post, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { Permission } from '@provisio/contracts';
import { CurrentPrincipal, Principal, RequirePermission, ApiErrors, UuidParam } from '@provisio/platform';
import { pickSource } from '../versions/script-versions.service';
import { SourceDto, ValidationResultDto, VersionQueryDto } from './dtos/validation.dto';
import { ValidationService } from './validation.service';

/** Validation: compile only, `script:read` (dry runs are in `dry-runs/`). */
@ApiTags('validation')
@Controller('scripts')
export class ValidationController {
  constructor(private readonly validation: ValidationService) {}

  @Post('validate')
  @HttpCode(HttpStatus.OK)
  @RequirePermission(Permission.ScriptRead)
  @ApiOperation({ summary: 'Validate a source without saving or running it: syntax errors with line and column, warnings' })
  @ApiOkResponse({ type: ValidationResultDto, description: 'Also when the source is invalid: `valid: false` and the errors.' })
  @ApiErrors()
  validate(@Body() body: SourceDto): Promise<ValidationResultDto> {
    return this.validation.validate(pickSource(body)!);
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
}
