import { ApiHideProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsIn, IsOptional, IsString, Length, Matches, MaxLength } from 'class-validator';
import { SCRIPT_TYPES } from '@provisio/persistence';
import { PageQueryDto } from '@provisio/platform';
import { IsJsonObject } from '../../common/validators';
import { ACCEPTED_STATUSES } from '../script-rules';
import { SCRIPT_LIMITS, TAG_PATTERN } from './create-script.dto';
import { parseJsonObject, splitList } from './validators';

export const SCRIPT_SORTS = ['name', 'created_at', 'updated_at'] as const;
export const SORT_ORDERS = ['asc', 'desc'] as const;

/** `GET /scripts`: filters combine with AND; list values (`status=active,paused`) with OR, tags with AND. */
export class ListScriptsQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ description: `Comma-separated or repeated; any of ${ACCEPTED_STATUSES.join(', ')}. Without it, archived scripts are left out.`, example: 'active,paused', type: String })
  @IsOptional()
  @Transform(({ value }) => splitList(value))
  @IsArray()
  @ArrayMaxSize(ACCEPTED_STATUSES.length)
  @IsIn(ACCEPTED_STATUSES, { each: true })
  status?: string[];

  @ApiPropertyOptional({ description: `Comma-separated or repeated; any of ${SCRIPT_TYPES.join(', ')}.`, example: 'event', type: String })
  @IsOptional()
  @Transform(({ value }) => splitList(value))
  @IsArray()
  @ArrayMaxSize(SCRIPT_TYPES.length)
  @IsIn(SCRIPT_TYPES, { each: true })
  type?: string[];

  @ApiPropertyOptional({ description: 'Scripts carrying ALL these tags; repeat it (`tag=a&tag=b`) or separate with commas.', type: String })
  @IsOptional()
  @Transform(({ value }) => splitList(value))
  @IsArray()
  @ArrayMaxSize(SCRIPT_LIMITS.tags)
  @IsString({ each: true })
  @Length(1, SCRIPT_LIMITS.tag, { each: true })
  @Matches(TAG_PATTERN, { each: true, message: 'each value in tag must be a tag (no commas, no surrounding blanks)' })
  tag?: string[];

  @ApiPropertyOptional({ description: 'Same as `tag`, comma-separated.', example: 'onboarding,mail', type: String })
  @IsOptional()
  @Transform(({ value }) => splitList(value))
  @IsArray()
  @ArrayMaxSize(SCRIPT_LIMITS.tags)
  @IsString({ each: true })
  @Length(1, SCRIPT_LIMITS.tag, { each: true })
  @Matches(TAG_PATTERN, { each: true, message: 'each value in tags must be a tag (no commas, no surrounding blanks)' })
  tags?: string[];

  /** Documented on the controller (`deepObject` style), which class properties cannot express. */
  @ApiHideProperty()
  @IsOptional()
  @Transform(({ value }) => parseJsonObject(value))
  @IsJsonObject(2048, { message: 'metadata must be metadata[key]=value pairs or a JSON object such as {"team":"identity"}' })
  metadata?: Record<string, unknown>;

  @ApiPropertyOptional({ description: 'Full-text search over name and description (English stemming; every word must match, as a prefix).', example: 'welcome mail' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  @Matches(/[\p{L}\p{N}]/u, { message: 'q must contain a letter or digit' })
  q?: string;

  @ApiPropertyOptional({ enum: SCRIPT_SORTS, default: 'created_at' })
  @IsOptional()
  @IsIn(SCRIPT_SORTS)
  sort?: (typeof SCRIPT_SORTS)[number];

  @ApiPropertyOptional({ enum: SORT_ORDERS, description: 'Default: asc for name, desc for dates.' })
  @IsOptional()
  @IsIn(SORT_ORDERS)
  order?: (typeof SORT_ORDERS)[number];
}
