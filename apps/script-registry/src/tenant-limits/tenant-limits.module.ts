import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { TenantLimitsController } from './tenant-limits.controller';
import { TenantLimitsRepository } from './tenant-limits.repository';
import { TenantLimitsService } from './tenant-limits.service';

/** The caps an administrator sets on a tenant's resource limits (`tenants.settings.limits`). Exports the check scripts and dry runs use. */
@Module({
  imports: [AuditModule],
  controllers: [TenantLimitsController],
  providers: [TenantLimitsService, TenantLimitsRepository],
  exports: [TenantLimitsService],
})
export class TenantLimitsModule {}
