import { BadRequestException, ValidationError as ClassValidatorError, ValidationPipe } from '@nestjs/common';

function firstProblem(errors: ClassValidatorError[], parent = ''): { field: string; message: string } | undefined {
  for (const error of errors) {
    const field = parent ? `${parent}.${error.property}` : error.property;
    const constraint = error.constraints && Object.values(error.constraints)[0];
    if (constraint) return { field, message: constraint };
    const nested = firstProblem(error.children ?? [], field);
    if (nested) return nested;
  }
  return undefined;
}

/** Validates and transforms every body and query; a bad one gets 400 naming the first wrong field. */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    transform: true,
    whitelist: true,
    forbidNonWhitelisted: true,
    transformOptions: { enableImplicitConversion: false },
    exceptionFactory: (errors) => {
      const problem = firstProblem(errors) ?? { field: undefined, message: 'invalid request' };
      return new BadRequestException({ code: 'validation_failed', message: problem.message, field: problem.field });
    },
  });
}
