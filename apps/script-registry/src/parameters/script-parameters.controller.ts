import { Body, Controller, Get, Param, Put } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Permission } from '@provisio/contracts';
import { ApiErrors, CurrentPrincipal, Principal, RequirePermission, UuidParam } from '@provisio/platform';
import { PutScriptParametersDto, ScriptParametersDto } from './dtos/script-parameter.dto';
import { ScriptParametersService } from './script-parameters.service';

/** A script's typed parameters (seed 004): read with `script:read`, replaced as a set with `script:write`. */
@ApiTags('script parameters')
@Controller('scripts/:id/parameters')
export class ScriptParametersController {
  constructor(private readonly parameters: ScriptParametersService) {}

  @Get()
  @RequirePermission(Permission.ScriptRead)
  @ApiOperation({ summary: "The script's parameters in display order, their groups, and the JSON Schema every run's input is checked against" })
  @ApiOkResponse({ type: ScriptParametersDto })
  @ApiErrors(404)
  get(@CurrentPrincipal() principal: Principal, @Param('id', UuidParam) id: string): Promise<ScriptParametersDto> {
    return this.parameters.get(principal, id);
  }

  @Put()
  @RequirePermission(Permission.ScriptWrite)
  @ApiOperation({ summary: 'Replaces the whole set (kept by name, others deleted). Secret defaults are stored encrypted and answered as "********".' })
  @ApiOkResponse({ type: ScriptParametersDto })
  @ApiErrors(404, 409)
  replace(@CurrentPrincipal() principal: Principal, @Param('id', UuidParam) id: string, @Body() body: PutScriptParametersDto): Promise<ScriptParametersDto> {
    return this.parameters.replace(principal, id, body);
  }
}
