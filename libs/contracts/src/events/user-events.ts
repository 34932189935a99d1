import { z } from 'zod';

/**
 * The `user.*` domain events the identity store is kept from (provisioning-queue's consumer; see
 * docs/events.md, "User events"). Upstream systems publish them on `provisio.domain-events`; the user is
 * named by `data.user_id`, the upstream's own id, which the identity store keeps as
 * `identities.source_user_id`.
 */
export const UserEventType = {
  Created: 'user.created',
  Updated: 'user.updated',
  Deleted: 'user.deleted',
  Enabled: 'user.enabled',
  Disabled: 'user.disabled',
} as const;
export type UserEventTypeName = (typeof UserEventType)[keyof typeof UserEventType];
export const USER_EVENT_TYPES: readonly UserEventTypeName[] = Object.values(UserEventType);

/** Identity attributes (JSON text of `attributes`) are at most this long, from an event or the API. */
export const MAX_IDENTITY_ATTRIBUTES_CHARS = 65_536;

/** The statuses an upstream may state; `deleted` is reached through `user.deleted` only. */
export const UPSTREAM_USER_STATUSES = ['active', 'inactive', 'suspended'] as const;

/** Top-level fields with a meaning; any other top-level field of `data` is an attribute (`first_name` …). */
export const USER_STATE_FIELDS = ['user_id', 'username', 'email', 'display_name', 'status', 'attributes', 'version'] as const;

const userId = z.string().min(1).max(255);
/**
 * The upstream's version of the user (a counter it increments on every change). When both the stored
 * identity and the event have one, it decides which is newer; otherwise the CloudEvent `time` does.
 */
const version = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).optional();

const withinAttributeLimit = (data: Record<string, unknown>) => {
  const rest = Object.fromEntries(Object.entries(data).filter(([key]) => !(USER_STATE_FIELDS as readonly string[]).includes(key) || key === 'attributes'));
  return (JSON.stringify(rest) ?? '').length <= MAX_IDENTITY_ATTRIBUTES_CHARS;
};

/**
 * `user.created` and `user.updated`: the user's state. Fields absent from the event keep their stored
 * value (an update may carry only what changed); `attributes` and the extra top-level fields merge into
 * the stored attributes key by key, a `null` value removing the key.
 */
export const userStateEventSchema = z
  .object({
    user_id: userId,
    /** Defaults to the stored username, or to `user_id` for a user seen for the first time. */
    username: z.string().min(1).max(255).optional(),
    email: z.string().max(320).regex(/^[^@\s]+@[^@\s]+$/, 'must be an email address').nullable().optional(),
    display_name: z.string().max(255).nullable().optional(),
    status: z.enum(UPSTREAM_USER_STATUSES).optional(),
    attributes: z.record(z.string().min(1).max(255), z.unknown()).optional(),
    version,
  })
  .catchall(z.unknown())
  .refine(withinAttributeLimit, { message: `attributes must be at most ${MAX_IDENTITY_ATTRIBUTES_CHARS} characters of JSON`, path: ['attributes'] });
export type UserStateEvent = z.infer<typeof userStateEventSchema>;

/** `user.deleted`, `user.enabled`, `user.disabled`: the user, and optionally its version. */
export const userLifecycleEventSchema = z.object({ user_id: userId, version }).catchall(z.unknown());
export type UserLifecycleEvent = z.infer<typeof userLifecycleEventSchema>;

export const USER_EVENT_DATA_SCHEMAS: Record<UserEventTypeName, z.ZodType<UserStateEvent | UserLifecycleEvent>> = {
  [UserEventType.Created]: userStateEventSchema,
  [UserEventType.Updated]: userStateEventSchema,
  [UserEventType.Deleted]: userLifecycleEventSchema,
  [UserEventType.Enabled]: userLifecycleEventSchema,
  [UserEventType.Disabled]: userLifecycleEventSchema,
};

export function isUserEventType(type: string): type is UserEventTypeName {
  return (USER_EVENT_TYPES as readonly string[]).includes(type);
}
