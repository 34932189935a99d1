import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional, ApiResponse } from '@nestjs/swagger';

/** The one error shape of every Provisio service (docs/api.md). */
export class ErrorResponseDto {
  @ApiProperty({ example: 400 })
  status: number;

  @ApiProperty({
    example: 'validation_failed',
    enum: ['validation_failed', 'unauthenticated', 'forbidden', 'not_found', 'conflict', 'invalid_transition', 'payload_too_large', 'rate_limited', 'target_error', 'internal'],
  })
  code: string;

  @ApiProperty({ example: 'name must be shorter than or equal to 255 characters' })
  message: string;

  @ApiPropertyOptional({ example: 'name', description: 'The offending field, where there is one.' })
  field?: string;

  @ApiPropertyOptional({ type: 'object', additionalProperties: true, description: 'e.g. `allowed` for an invalid status transition.' })
  details?: Record<string, unknown>;
}

export type DocumentedErrorStatus = 404 | 409 | 413 | 429 | 502;

const DESCRIPTIONS: Record<400 | 401 | 403 | DocumentedErrorStatus, string> = {
  400: 'Malformed body, query or path parameter; `field` names the first wrong one.',
  401: 'No valid bearer token.',
  403: "The token lacks the endpoint's permission.",
  404: "No such object in the caller's tenant.",
  409: 'Conflict: a unique name taken, a forbidden status transition (`details.allowed`), or a state the request cannot apply to (`message` says which).',
  413: 'The body is larger than the endpoint accepts.',
  429: 'Too many at once; retry after the `Retry-After` header (seconds).',
  502: 'The target system failed or refused the call (`message` says how).',
};

/** Documents the error answers of an endpoint; 400, 401 and 403 apply to all of them. */
export function ApiErrors(...statuses: DocumentedErrorStatus[]): MethodDecorator & ClassDecorator {
  return applyDecorators(...[400, 401, 403, ...statuses].map((status) => ApiResponse({ status, description: DESCRIPTIONS[status as keyof typeof DESCRIPTIONS], type: ErrorResponseDto })));
}
