import { ApiProperty } from '@nestjs/swagger';

/** Seed 000's AuditEvent, with the entity it is about. */
export class AuditEventDto {
  @ApiProperty({ format: 'uuid' }) event_id: string;
  @ApiProperty({ format: 'uuid' }) tenant_id: string;
  @ApiProperty({ format: 'uuid', nullable: true, type: String, description: 'NULL once the script is deleted (entity_id keeps its id).' }) script_id: string | null;
  @ApiProperty({ example: 'script', description: '`script`, `hook_binding`, `script_template` …' }) entity_type: string;
  @ApiProperty({ format: 'uuid', nullable: true, type: String }) entity_id: string | null;
  @ApiProperty({ example: 'activate', description: 'create, update, activate, pause, disable, archive, delete, create_version, rollback …' }) action: string;
  @ApiProperty({ description: 'JWT subject of the actor.' }) actor_id: string;
  @ApiProperty({ description: 'JSON (a string, as seed 000 types it): changed fields with before/after values, versions, reasons.', example: '{"changed":["description"]}' })
  details: string;
  @ApiProperty({ format: 'date-time' }) created_at: Date;
}

export class AuditPageDto {
  @ApiProperty({ type: [AuditEventDto] }) items: AuditEventDto[];
  @ApiProperty() total: number;
  @ApiProperty() limit: number;
  @ApiProperty() offset: number;
}
