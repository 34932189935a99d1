import { ValidationOptions, registerDecorator } from 'class-validator';

export function isPlainJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.getPrototypeOf(value) === Object.prototype;
}

/** A JSON object (not an array, not null) whose serialised form is at most `maxBytes`. */
export function IsJsonObject(maxBytes: number, options?: ValidationOptions): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({
      name: 'isJsonObject',
      target: target.constructor,
      propertyName: propertyName as string,
      options: { message: `$property must be a JSON object of at most ${maxBytes} bytes`, ...options },
      validator: {
        validate: (value: unknown) => isPlainJsonObject(value) && Buffer.byteLength(JSON.stringify(value)) <= maxBytes,
      },
    });
}
