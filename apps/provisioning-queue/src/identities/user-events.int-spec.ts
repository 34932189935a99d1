import { randomUUID } from 'node:crypto';
import { Producer } from 'kafkajs';
import { createCloudEvent, messageKey, Topic } from '@provisio/contracts';
import { eventually, readTopic, testKafka } from '@provisio/platform/testing';
import { Caller, ProvisioningTestApp, startProvisioningQueue } from '../testing/provisioning-app';

const SOURCE = '//hr.example.com/workday';

describe('provisioning-queue: identities kept from user.* domain events (real broker)', () => {
  let t: ProvisioningTestApp;
  let producer: Producer;
  let own: Caller;
  const kafka = testKafka();
  const tenantId = randomUUID();

  const publish = async (userId: string, messages: (object | string)[]) =>
    producer.send({
      topic: t.prefix + Topic.DomainEvents,
      acks: -1,
      messages: messages.map((m) => ({ key: messageKey.tenantAccount(tenantId, userId), value: typeof m === 'string' ? m : JSON.stringify(m) })),
    });
  const event = (type: string, data: Record<string, unknown>, extra: { id?: string; time?: Date } = {}) =>
    createCloudEvent({ id: extra.id, source: SOURCE, type, tenantid: tenantId, subject: String(data.user_id), time: extra.time, data });
  const identityOf = async (userId: string) =>
    (await t.db.dataSource.query('SELECT username, email, display_name, status, attributes, source_version::int AS source_version FROM identities WHERE tenant_id = $1 AND source_user_id = $2', [tenantId, userId]))[0];
  const at = (minute: number) => new Date(Date.UTC(2026, 11, 3, 10, minute));

  beforeAll(async () => {
    t = await startProvisioningQueue();
    own = t.caller({ tenantId });
    producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
  });
  afterAll(async () => {
    await producer?.disconnect();
    await t?.close();
  });

  it('creates, updates, disables, enables and deletes an identity through its lifecycle', async () => {
    const user = `u-${randomUUID().slice(0, 8)}`;
    await publish(user, [event('user.created', { user_id: user, username: 'zoe.l', email: 'zoe@example.com', first_name: 'Zoë', department: 'Finance' }, { time: at(1) })]);
    await eventually(() => identityOf(user), { what: 'identity created' });
    expect(await identityOf(user)).toEqual({ username: 'zoe.l', email: 'zoe@example.com', display_name: null, status: 'active', attributes: { first_name: 'Zoë', department: 'Finance' }, source_version: null });

    await publish(user, [
      event('user.updated', { user_id: user, display_name: 'Zoë Ł', attributes: { department: 'Audit', first_name: null } }, { time: at(2) }),
      event('user.disabled', { user_id: user }, { time: at(3) }),
    ]);
    await eventually(async () => (await identityOf(user))?.status === 'inactive', { what: 'disabled' });
    expect(await identityOf(user)).toMatchObject({ display_name: 'Zoë Ł', email: 'zoe@example.com', attributes: { department: 'Audit' } });

    await publish(user, [event('user.enabled', { user_id: user }, { time: at(4) })]);
    await eventually(async () => (await identityOf(user))?.status === 'active', { what: 'enabled' });
    await publish(user, [event('user.deleted', { user_id: user }, { time: at(5) })]);
    await eventually(async () => (await identityOf(user))?.status === 'deleted', { what: 'deleted' });
    // The API shows it, deleted (the row stays for the provisioning queue and the reconciler).
    const listed = await own.get('/identities', { source_user_id: user });
    expect(listed.body.items).toEqual([expect.objectContaining({ username: 'zoe.l', status: 'deleted', source_user_id: user })]);

    // user.created again revives it.
    await publish(user, [event('user.created', { user_id: user, username: 'zoe.l' }, { time: at(6) })]);
    await eventually(async () => (await identityOf(user))?.status === 'active', { what: 'revived' });
  });

  it('creates an unknown user from user.updated, and ignores enable/disable (and untimed deletes) of an unknown user', async () => {
    const user = `u-${randomUUID().slice(0, 8)}`;
    const ghost = `ghost-${randomUUID().slice(0, 8)}`;
    // One key, one partition: the ghost's events are consumed before the user's.
    const untimed = { ...event('user.deleted', { user_id: ghost }), time: undefined };
    await publish(user, [untimed, event('user.disabled', { user_id: ghost }), event('user.enabled', { user_id: ghost }), event('user.updated', { user_id: user, email: 'new@example.com' })]);
    await eventually(() => identityOf(user), { what: 'identity created by an update' });
    expect(await identityOf(user)).toMatchObject({ username: user, email: 'new@example.com', status: 'active' });
    expect(await identityOf(ghost)).toBeUndefined();
  });

  it('keeps the deletion of an unknown user, so an older user.created does not bring it back', async () => {
    const user = `u-${randomUUID().slice(0, 8)}`;
    await publish(user, [
      event('user.deleted', { user_id: user }, { time: at(40) }),
      event('user.created', { user_id: user, username: 'late.replay' }, { time: at(35) }),
      event('user.updated', { user_id: user, marker: 'after' }, { time: at(41) }),
    ]);
    await eventually(async () => (await identityOf(user))?.attributes.marker === 'after', { what: 'marker applied' });
    expect(await identityOf(user)).toMatchObject({ username: user, status: 'deleted' });
    // A newer user.created revives it with what it says.
    await publish(user, [event('user.created', { user_id: user, username: 'back.again' }, { time: at(50) })]);
    await eventually(async () => (await identityOf(user))?.status === 'active', { what: 'revived' });
    expect(await identityOf(user)).toMatchObject({ username: 'back.again', attributes: { marker: 'after' } });
  });

  it('applies a redelivered event once', async () => {
    const user = `u-${randomUUID().slice(0, 8)}`;
    const first = event('user.created', { user_id: user, title: 'A' });
    await publish(user, [first, event('user.updated', { user_id: user, title: 'B' })]);
    await eventually(async () => (await identityOf(user))?.attributes.title === 'B', { what: 'second applied' });
    // The same event (source and id) again, then a marker: if the redelivery were applied, title would be A.
    await publish(user, [first, event('user.updated', { user_id: user, marker: 1 })]);
    await eventually(async () => (await identityOf(user))?.attributes.marker === 1, { what: 'marker applied' });
    expect((await identityOf(user)).attributes).toEqual({ title: 'B', marker: 1 });
    const processed = await t.db.dataSource.query(`SELECT count(*)::int AS n FROM processed_events WHERE source = $1 AND event_id = $2`, [SOURCE, first.id]);
    expect(processed).toEqual([{ n: 1 }]);
  });

  it('ignores an event older than the last applied one, by time and by version', async () => {
    const user = `u-${randomUUID().slice(0, 8)}`;
    await publish(user, [
      event('user.created', { user_id: user, department: 'New' }, { time: at(30) }),
      event('user.updated', { user_id: user, department: 'Old' }, { time: at(20) }),
      event('user.deleted', { user_id: user }, { time: at(10) }),
      event('user.updated', { user_id: user, marker: 'time' }, { time: at(31) }),
    ]);
    await eventually(async () => (await identityOf(user))?.attributes.marker === 'time', { what: 'marker applied' });
    expect(await identityOf(user)).toMatchObject({ status: 'active', attributes: { department: 'New', marker: 'time' } });

    const versioned = `v-${randomUUID().slice(0, 8)}`;
    await publish(versioned, [
      event('user.created', { user_id: versioned, version: 5, level: 'five' }, { time: at(1) }),
      // Later in time but an older version: the version decides.
      event('user.updated', { user_id: versioned, version: 4, level: 'four' }, { time: at(59) }),
      event('user.disabled', { user_id: versioned, version: 5 }),
      event('user.updated', { user_id: versioned, version: 6, marker: 'version' }),
    ]);
    await eventually(async () => (await identityOf(versioned))?.attributes.marker === 'version', { what: 'version marker applied' });
    expect(await identityOf(versioned)).toMatchObject({ status: 'active', source_version: 6, attributes: { level: 'five', marker: 'version' } });
  });

  it('dead-letters malformed events with the reason, and the partition goes on', async () => {
    const user = `u-${randomUUID().slice(0, 8)}`;
    const noUser = event('user.created', { username: 'nobody' });
    const badEmail = event('user.updated', { user_id: user, email: 'not an email' });
    await publish(user, ['{not json', noUser, badEmail, event('group.created', { group_id: 'g' }), event('user.created', { user_id: user, note: 'after the poison' })]);
    await eventually(() => identityOf(user), { what: 'the event after the poison applied' });
    const dlq = await readTopic(kafka, t.prefix + Topic.DomainEvents + '.dlq', (messages) => messages.filter((m) => m.headers['dlq-consumer-group']?.startsWith('provisioning-queue')).length >= 3);
    const ours = dlq.filter((m) => m.headers['dlq-consumer-group'] === 'provisioning-queue.domain-events');
    expect(ours.map((m) => [m.headers['dlq-reason'], m.headers['dlq-error']])).toEqual([
      ['not-json', expect.stringContaining('not JSON')],
      ['invalid-data', expect.stringContaining('data.user_id')],
      ['invalid-data', expect.stringContaining('data.email')],
    ]);
    expect(ours[1].value).toBe(JSON.stringify(noUser));
  });

  it('adopts an identity made through the API with the same username; refuses one of another upstream user', async () => {
    const made = await own.createIdentity({ username: `api-${randomUUID().slice(0, 8)}` });
    const user = `u-${randomUUID().slice(0, 8)}`;
    await publish(user, [event('user.created', { user_id: user, username: made.username, department: 'Ops' })]);
    await eventually(() => identityOf(user), { what: 'adopted' });
    expect((await own.get(`/identities/${made.id}`)).body).toMatchObject({ source_user_id: user, attributes: { department: 'Ops' } });

    const intruder = `u-${randomUUID().slice(0, 8)}`;
    const clash = event('user.created', { user_id: intruder, username: made.username });
    await publish(intruder, [clash]);
    const dlq = await readTopic(kafka, t.prefix + Topic.DomainEvents + '.dlq', (messages) => messages.some((m) => m.value === JSON.stringify(clash)));
    const rejected = dlq.find((m) => m.value === JSON.stringify(clash))!;
    expect(rejected.headers).toMatchObject({ 'dlq-reason': 'handler-rejected', 'dlq-error': expect.stringContaining(`belongs to the identity of upstream user ${user}`) });
    expect(await identityOf(intruder)).toBeUndefined();

    // A rename to a username another identity has: the unique constraint refuses it, the event is dead-lettered.
    const other = `u-${randomUUID().slice(0, 8)}`;
    const rename = event('user.updated', { user_id: other, username: made.username });
    await publish(other, [event('user.created', { user_id: other }), rename, event('user.updated', { user_id: other, marker: 'after' })]);
    await eventually(async () => (await identityOf(other))?.attributes.marker === 'after', { what: 'the event after the rename applied' });
    expect((await identityOf(other)).username).toBe(other);
    const renamed = await readTopic(kafka, t.prefix + Topic.DomainEvents + '.dlq', (messages) => messages.some((m) => m.value === JSON.stringify(rename)));
    expect(renamed.find((m) => m.value === JSON.stringify(rename))!.headers['dlq-reason']).toBe('unstorable');
  });

  it('applies events that name each other\'s users and usernames in one batch as it would one at a time', async () => {
    const id = () => randomUUID().slice(0, 8);
    const [a, b, e, f, c, d] = [`a-${id()}`, `b-${id()}`, `e-${id()}`, `f-${id()}`, `c-${id()}`, `d-${id()}`];
    const [aOld, aNew] = [`old-${id()}`, `new-${id()}`];
    await publish(a, [event('user.created', { user_id: a, username: aOld })]);
    await eventually(() => identityOf(a), { what: 'a created' });

    // One send to one partition: one batch, applied in one transaction.
    await publish(a, [
      event('user.updated', { user_id: a, username: aNew }),
      event('user.created', { user_id: b, username: aOld }), // the name a gave up, earlier in the batch
      event('user.created', { user_id: e, department: 'Ops' }),
      event('user.updated', { user_id: e, title: 'Lead' }),
      event('user.deleted', { user_id: f }, { time: at(30) }),
      event('user.created', { user_id: f, username: f }, { time: at(20) }), // older than its deletion
      event('user.updated', { user_id: a, marker: 'last' }),
    ]);
    await eventually(async () => (await identityOf(a))?.attributes.marker === 'last', { what: 'the batch applied' });
    expect(await identityOf(a)).toMatchObject({ username: aNew });
    expect(await identityOf(b)).toMatchObject({ username: aOld, status: 'active' });
    expect(await identityOf(e)).toMatchObject({ username: e, attributes: { department: 'Ops', title: 'Lead' } });
    expect(await identityOf(f)).toMatchObject({ status: 'deleted' });

    // d takes c's user_id as its username in the batch that creates c: c's identity has it, d is refused.
    const clash = event('user.created', { user_id: d, username: c });
    await publish(c, [event('user.created', { user_id: c }), clash, event('user.updated', { user_id: c, marker: 'after' })]);
    await eventually(async () => (await identityOf(c))?.attributes.marker === 'after', { what: 'c applied' });
    const dlq = await readTopic(kafka, t.prefix + Topic.DomainEvents + '.dlq', (messages) => messages.some((m) => m.value === JSON.stringify(clash)));
    expect(dlq.find((m) => m.value === JSON.stringify(clash))!.headers['dlq-error']).toContain(`belongs to the identity of upstream user ${c}`);
    expect(await identityOf(d)).toBeUndefined();
    expect(await identityOf(c)).toMatchObject({ username: c });
  });

  it('stores NUL characters from an event as U+FFFD', async () => {
    const user = `u-${randomUUID().slice(0, 8)}`;
    await publish(user, [JSON.stringify(event('user.created', { user_id: user, display_name: 'a\u0000b', attributes: { 'k\u0000': 'v\u0000' } }))]);
    await eventually(() => identityOf(user), { what: 'stored' });
    expect(await identityOf(user)).toMatchObject({ display_name: 'a\uFFFDb', attributes: { 'k\uFFFD': 'v\uFFFD' } });
  });
});
