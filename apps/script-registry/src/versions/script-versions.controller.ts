import { Body, Controller, Get, Param, Post, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { Permission } from '@provisio/contracts';
import { CurrentPrincipal, Page, PageQueryDto, Principal, RequirePermission, ApiErrors, UuidParam } from '@provisio/platform';
import { VersionNumberParam } from '../common/params';
import { CreateVersionDto, DiffQueryDto, RollbackDto } from './dtos/create-version.dto';
import { ScriptVersionDiffDto, ScriptVersionDto, ScriptVersionPageDto, ScriptVersionSummaryDto } from './dtos/version.dto';
import { ScriptVersionsService } from './script-versions.service';

@ApiTags('versions')
@ApiParam({ name: 'id', format: 'uuid', description: 'The script.' })
@Controller('scripts/:id/versions')
export class ScriptVersionsController {
  constructor(private readonly versions: ScriptVersionsService) {}

  @Get()
  @RequirePermission(Permission.ScriptRead)
  @ApiOperation({ summary: "A script's versions, newest first (without their source)" })
  @ApiOkResponse({ type: ScriptVersionPageDto })
  @ApiErrors(404)
  list(@CurrentPrincipal() principal: Principal, @Param('id', UuidParam) id: string, @Query() query: PageQueryDto): Promise<Page<ScriptVersionSummaryDto>> {
    return this.versions.list(principal, id, query);
  }

  @Post()
  @RequirePermission(Permission.ScriptWrite)
  @ApiOperation({ summary: 'A new source, as a new live version' })
  @ApiCreatedResponse({ type: ScriptVersionDto })
  @ApiErrors(404, 409)
  create(@CurrentPrincipal() principal: Principal, @Param('id', UuidParam) id: string, @Body() body: CreateVersionDto): Promise<ScriptVersionDto> {
    return this.versions.create(principal, id, body);
  }

  // Declared before `:version` so that `diff` is never taken for a version number.
  @Get('diff')
  @RequirePermission(Permission.ScriptRead)
  @ApiOperation({ summary: 'Unified diff between two versions (default: the live one and the one before)' })
  @ApiOkResponse({ type: ScriptVersionDiffDto })
  @ApiErrors(404)
  diff(@CurrentPrincipal() principal: Principal, @Param('id', UuidParam) id: string, @Query() query: DiffQueryDto): Promise<ScriptVersionDiffDto> {
    return this.versions.diff(principal, id, query);
  }

  @Get(':version')
  @RequirePermission(Permission.ScriptRead)
  @ApiOperation({ summary: 'One version, with its source' })
  @ApiParam({ name: 'version', type: Number, description: 'version_number' })
  @ApiOkResponse({ type: ScriptVersionDto })
  @ApiErrors(404)
  get(@CurrentPrincipal() principal: Principal, @Param('id', UuidParam) id: string, @Param('version', VersionNumberParam) version: number): Promise<ScriptVersionDto> {
    return this.versions.get(principal, id, version);
  }

  @Post(':version/rollback')
  @RequirePermission(Permission.ScriptWrite)
  @ApiOperation({ summary: "Roll back: a NEW version with that version's source becomes live" })
  @ApiParam({ name: 'version', type: Number, description: 'The version whose source comes back.' })
  @ApiCreatedResponse({ type: ScriptVersionDto })
  @ApiErrors(404, 409)
  rollback(
    @CurrentPrincipal() principal: Principal,
    @Param('id', UuidParam) id: string,
    @Param('version', VersionNumberParam) version: number,
    @Body() body: RollbackDto,
  ): Promise<ScriptVersionDto> {
    return this.versions.rollback(principal, id, version, body);
  }
}
