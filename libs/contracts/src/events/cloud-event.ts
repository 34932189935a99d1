import { z } from 'zod';

/**
 * The CloudEvents 1.0 structured-mode JSON envelope every Kafka message carries, with the `tenantid`
 * extension. https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/spec.md
 */
const rfc3339 = z.iso.datetime({ offset: true });

export const cloudEventSchema = z
  .object({
    specversion: z.literal('1.0'),
    id: z.string().min(1).max(255),
    source: z.string().min(1).max(1024),
    type: z.string().min(1).max(255),
    time: rfc3339.optional(),
    subject: z.string().min(1).max(1024).optional(),
    datacontenttype: z.literal('application/json').optional(),
    dataschema: z.string().optional(),
    tenantid: z.uuid(),
    data: z.unknown(),
  })
  // Extension attributes are allowed by the spec: lower-case alphanumeric names of at most 20 characters.
  .catchall(z.unknown())
  .superRefine((event, ctx) => {
    for (const key of Object.keys(event)) {
      if (!/^[a-z0-9]{1,20}$/.test(key)) {
        ctx.addIssue({ code: 'custom', path: [key], message: `"${key}" is not a valid CloudEvents attribute name` });
      }
    }
  });

export interface CloudEvent<T = unknown> {
  specversion: '1.0';
  id: string;
  source: string;
  type: string;
  time?: string;
  subject?: string;
  datacontenttype?: 'application/json';
  dataschema?: string;
  tenantid: string;
  data: T;
  /** Further extension attributes. */
  [extension: string]: unknown;
}

export interface NewCloudEvent<T> {
  id?: string;
  source: string;
  type: string;
  tenantid: string;
  subject?: string;
  time?: Date;
  data: T;
}

export function createCloudEvent<T>(input: NewCloudEvent<T>): CloudEvent<T> {
  return {
    specversion: '1.0',
    id: input.id ?? globalThis.crypto.randomUUID(),
    source: input.source,
    type: input.type,
    time: (input.time ?? new Date()).toISOString(),
    ...(input.subject ? { subject: input.subject } : {}),
    datacontenttype: 'application/json',
    tenantid: input.tenantid,
    data: input.data,
  };
}
