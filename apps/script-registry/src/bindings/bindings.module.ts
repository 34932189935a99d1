import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { BindingsController } from './bindings.controller';
import { BindingsService } from './bindings.service';

/** Hook bindings: provisioning scripts run before/after connector operations, in order, with a failure policy. */
@Module({
  imports: [AuditModule],
  controllers: [BindingsController],
  providers: [BindingsService],
})
export class BindingsModule {}
