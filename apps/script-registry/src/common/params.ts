import { ArgumentMetadata, Injectable, PipeTransform } from '@nestjs/common';
import { ValidationError } from '@provisio/platform';

/** `@Param('version', VersionNumberParam)`: a version number, 1 … 2^31-1. */
@Injectable()
export class VersionNumberParam implements PipeTransform<string, number> {
  transform(value: string, metadata: ArgumentMetadata): number {
    const n = /^[1-9][0-9]{0,9}$/.test(value ?? '') ? Number(value) : NaN;
    if (!Number.isSafeInteger(n) || n > 2_147_483_647) throw new ValidationError(`${metadata.data ?? 'parameter'} must be a positive integer`, metadata.data);
    return n;
  }
}
