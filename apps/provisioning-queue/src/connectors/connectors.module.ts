import { Module } from '@nestjs/common';
import { MappingScriptsModule } from '@provisio/mapping-scripts';
import { IdentitiesModule } from '../identities/identities.module';
import { ConnectorsController } from './connectors.controller';
import { ConnectorsRepository } from './connectors.repository';
import { ConnectorsService } from './connectors.service';
import { ConnectorCredentialsService } from './credentials/connector-credentials.service';

/** Connectors: their API, their encrypted credentials, and the preview of mapping and policy. */
@Module({
  imports: [IdentitiesModule, MappingScriptsModule],
  controllers: [ConnectorsController],
  providers: [ConnectorsRepository, ConnectorsService, ConnectorCredentialsService],
  exports: [ConnectorsRepository, ConnectorCredentialsService, MappingScriptsModule],
})
export class ConnectorsModule {}
