import { cloudEventSchema, createCloudEvent } from './cloud-event';

const tenant = '6f1c3c52-8f6d-4d5e-9a57-1f0b8c0a9d11';

describe('CloudEvent envelope', () => {
  it('accepts what createCloudEvent builds', () => {
    const event = createCloudEvent({ source: 'test', type: 'user.created', tenantid: tenant, data: { user_id: 'u1' } });
    expect(cloudEventSchema.safeParse(event).success).toBe(true);
    expect(event.specversion).toBe('1.0');
  });

  it.each([
    ['specversion', { specversion: '0.3' }],
    ['tenantid', { tenantid: 'not-a-uuid' }],
    ['id', { id: '' }],
    ['time', { time: 'yesterday' }],
    ['Bad_Name', { Bad_Name: 1 }],
  ])('rejects a bad %s and names it', (field, patch) => {
    const event = { ...createCloudEvent({ source: 's', type: 't.x', tenantid: tenant, data: {} }), ...patch };
    const result = cloudEventSchema.safeParse(event);
    expect(result.success).toBe(false);
    expect(result.error!.issues.map((i) => i.path.join('.'))).toContain(field);
  });

  it('rejects an envelope without tenantid', () => {
    const { tenantid: _omitted, ...event } = createCloudEvent({ source: 's', type: 't.x', tenantid: tenant, data: {} });
    expect(cloudEventSchema.safeParse(event).success).toBe(false);
  });
});
