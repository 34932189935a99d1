import { ApiProperty } from '@nestjs/swagger';

/** A version as lists show it (without the source). Actor ids are JWT subjects. */
export class ScriptVersionSummaryDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'uuid' }) script_id: string;
  @ApiProperty({ format: 'uuid' }) tenant_id: string;
  @ApiProperty({ description: 'Sequential per script: 1, 2, 3 …' }) version_number: number;
  @ApiProperty({ nullable: true, type: String }) change_description: string | null;
  @ApiProperty({ nullable: true, type: String, description: 'Hex SHA-256 of the source.' }) source_sha256: string | null;
  @ApiProperty({ nullable: true, type: String, description: 'Optional semantic version label (seed 004).' }) semantic_version: string | null;
  @ApiProperty({ nullable: true, type: String, description: 'JWT subject of the author.' }) created_by: string | null;
  @ApiProperty({ format: 'date-time' }) created_at: Date;
}

export class ScriptVersionDto extends ScriptVersionSummaryDto {
  @ApiProperty() source: string;
  @ApiProperty({ description: "Seed 000's name for `source` (the same text)." }) script_body: string;
}

export class ScriptVersionPageDto {
  @ApiProperty({ type: [ScriptVersionSummaryDto] }) items: ScriptVersionSummaryDto[];
  @ApiProperty() total: number;
  @ApiProperty() limit: number;
  @ApiProperty() offset: number;
}

export class ScriptVersionDiffDto {
  @ApiProperty({ format: 'uuid' }) script_id: string;
  @ApiProperty() from_version: number;
  @ApiProperty() to_version: number;
  @ApiProperty({ description: 'Unified diff (empty when the sources are equal).', example: '--- v1\n+++ v2\n@@ -1,1 +1,1 @@\n-a\n+b\n' }) diff: string;
  @ApiProperty() additions: number;
  @ApiProperty() deletions: number;
}
