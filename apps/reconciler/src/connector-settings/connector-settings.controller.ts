import { Body, Controller, Get, Param, Put } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { IsArray, IsNumber, IsOptional, Max, Min } from 'class-validator';
import { Permission } from '@provisio/contracts';
import { TenantDatabase } from '@provisio/persistence';
import { ApiErrors, CurrentPrincipal, NotFoundError, Principal, RequirePermission, UuidParam, ValidationError } from '@provisio/platform';
import { correlationRulesSchema, defaultCorrelationRules } from '../classification/correlation-rules';
import { TargetConnectors } from '../common/target-connectors';
import { DEFAULT_DELETE_THRESHOLD_PERCENT } from '../runs/run-engine.service';
import { ConnectorSettingsRepository } from './connector-settings.repository';

export class ConnectorSettingsDto {
  @ApiProperty() connector_id: string;
  @ApiProperty({ description: 'Correlation rules in order: [{ identity_attribute, target_attribute }]' }) correlation_rules: unknown[];
  @ApiProperty({ description: 'Whether the rules are the default (from the mapping: email, then username)' }) default_rules: boolean;
  @ApiProperty() delete_threshold_percent: number;
}

export class PutConnectorSettingsDto {
  @ApiPropertyOptional({ description: 'Correlation rules in order; [] for the default (from the mapping)' })
  @IsOptional()
  @IsArray()
  correlation_rules?: unknown[];

  @ApiPropertyOptional({ minimum: 0, maximum: 100, default: DEFAULT_DELETE_THRESHOLD_PERCENT })
  @IsOptional()
  @IsNumber()
  @Min(0)
  @Max(100)
  delete_threshold_percent?: number;
}

@ApiTags('reconciliation')
@Controller('reconciliation/connectors/:id/settings')
export class ConnectorSettingsController {
  constructor(
    private readonly db: TenantDatabase,
    private readonly settings: ConnectorSettingsRepository,
    private readonly targets: TargetConnectors,
  ) {}

  @Get()
  @RequirePermission(Permission.ReconciliationRead)
  @ApiOperation({ summary: "A connector's correlation rules and guard threshold" })
  @ApiOkResponse({ type: ConnectorSettingsDto })
  @ApiErrors(404)
  async get(@CurrentPrincipal() principal: Principal, @Param('id', UuidParam) id: string): Promise<ConnectorSettingsDto> {
    const db = this.db.read(principal);
    const target = await this.targets.definition(db, id);
    const row = await this.settings.find(db, id);
    const rules = row?.correlation_rules ?? [];
    return {
      connector_id: id,
      correlation_rules: rules.length ? rules : defaultCorrelationRules(target.mapping),
      default_rules: rules.length === 0,
      delete_threshold_percent: row?.delete_threshold_percent ?? DEFAULT_DELETE_THRESHOLD_PERCENT,
    };
  }

  @Put()
  @RequirePermission(Permission.ReconciliationManage)
  @ApiOperation({ summary: "Sets a connector's correlation rules and guard threshold" })
  @ApiOkResponse({ type: ConnectorSettingsDto })
  @ApiErrors(404)
  async put(@CurrentPrincipal() principal: Principal, @Param('id', UuidParam) id: string, @Body() body: PutConnectorSettingsDto): Promise<ConnectorSettingsDto> {
    const parsed = correlationRulesSchema.safeParse(body.correlation_rules ?? []);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const field = ['correlation_rules', ...issue.path.map(String)].join('.');
      throw new ValidationError(`${field}: ${issue.message}`, field);
    }
    await this.db.write(principal, async (tx) => {
      const exists = await tx.one('SELECT id FROM connectors WHERE tenant_id = $1 AND id = $2', [id]);
      if (!exists) throw new NotFoundError('connector', id);
      await this.settings.upsert(tx, id, parsed.data, body.delete_threshold_percent ?? DEFAULT_DELETE_THRESHOLD_PERCENT);
    });
    return this.get(principal, id);
  }
}
