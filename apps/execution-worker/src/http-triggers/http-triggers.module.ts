import { Module } from '@nestjs/common';
import { ExecutionsModule } from '../executions/executions.module';
import { HttpTriggersController } from './http-triggers.controller';
import { HttpTriggersService } from './http-triggers.service';

/** HTTP-triggered scripts, served synchronously on a tenant-scoped path. */
@Module({ imports: [ExecutionsModule], controllers: [HttpTriggersController], providers: [HttpTriggersService] })
export class HttpTriggersModule {}
