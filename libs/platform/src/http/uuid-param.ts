import { ArgumentMetadata, Injectable, PipeTransform } from '@nestjs/common';
import { ValidationError } from '../errors/domain-errors';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** `@Param('id', UuidParam)`: 400 naming the parameter when it is not a UUID (rather than a 500 from PostgreSQL). */
@Injectable()
export class UuidParam implements PipeTransform<string, string> {
  transform(value: string, metadata: ArgumentMetadata): string {
    if (typeof value !== 'string' || !UUID.test(value)) throw new ValidationError(`${metadata.data ?? 'parameter'} must be a UUID`, metadata.data);
    return value.toLowerCase();
  }
}
