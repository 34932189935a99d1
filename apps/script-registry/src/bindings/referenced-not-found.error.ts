import { NotFoundError } from '@provisio/platform';

/**
 * 404 for an id given in a request BODY (`script_id`, `connector_id`) that does not exist in the caller's
 * tenant: like a path id, another tenant's object is "not found", and `field` says which id it was.
 */
export class ReferencedNotFoundError extends NotFoundError {
  override readonly field: string;

  constructor(entity: string, id: string, field: string) {
    super(entity, id);
    this.field = field;
  }
}
