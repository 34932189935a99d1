import { Inject, Injectable } from '@nestjs/common';
import { Principal } from '@provisio/platform';
import { SandboxPool, ValidationResult } from '@provisio/sandbox';
import { TenantDatabase } from '@provisio/persistence';
import type { ValidationResultDto } from './dtos/validation.dto';
import { StoredScripts } from './stored-scripts';

/**
 * Seed 000's validation: compiles a script in the sandbox (QuickJS, on the registry's pool) WITHOUT
 * running it, and reports syntax errors with line and column, imports as errors, and a warning when
 * there is no default-exported function (libs/sandbox `validate`). Nothing is written.
 */
@Injectable()
export class ValidationService {
  constructor(
    @Inject(SandboxPool) private readonly pool: SandboxPool,
    private readonly db: TenantDatabase,
    private readonly scripts: StoredScripts,
  ) {}

  validate(source: string): Promise<ValidationResult> {
    return this.pool.validate(source);
  }

  async validateStored(principal: Principal, scriptId: string, version?: number): Promise<ValidationResultDto> {
    const script = await this.scripts.load(this.db.read(principal), scriptId, version);
    return { ...(await this.validate(script.source)), script_id: script.id, version_number: script.version_number };
  }
}
