import { Module } from '@nestjs/common';
import { MappingScriptsModule } from '@provisio/mapping-scripts';
import { ExpectedAccounts } from '../classification/expected-accounts';
import { ConnectorSettingsController } from '../connector-settings/connector-settings.controller';
import { ConnectorSettingsRepository } from '../connector-settings/connector-settings.repository';
import { DiscrepanciesController } from '../discrepancies/discrepancies.controller';
import { ReportsService } from '../discrepancies/reports.service';
import { RemediationModule } from '../remediation/remediation.module';
import { RunEngine } from './run-engine.service';
import { RunSegmentsRepository } from './run-segments.repository';
import { RunMetrics } from './run-metrics';
import { RunsController } from './runs.controller';
import { RunsRepository } from './runs.repository';
import { RunsService } from './runs.service';

/** Reconciliation runs (API and engine), their discrepancies, reports and trends, and connector settings. */
@Module({
  imports: [MappingScriptsModule, RemediationModule],
  controllers: [RunsController, DiscrepanciesController, ConnectorSettingsController],
  providers: [ExpectedAccounts, RunsRepository, RunSegmentsRepository, RunsService, RunEngine, RunMetrics, ReportsService, ConnectorSettingsRepository],
  /** The schedules feature starts runs of fired occurrences. */
  exports: [RunsRepository, RunEngine],
})
export class RunsModule {}
