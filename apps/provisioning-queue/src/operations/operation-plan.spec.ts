import { MappableIdentity } from '@provisio/connectors';
import { parseMapping, parsePolicy } from '../connectors/connector-settings';
import { conflictCase } from './conflicts/conflict-detector';
import { planOperation } from './operation-plan';
import type { OperationRow } from './operations.repository';

const rules = {
  mapping: parseMapping([
    { target: 'userName', from: 'username', required: true },
    { target: 'mail', from: 'email' },
    { target: 'department', from: 'attributes.department' },
  ]),
  policy: parsePolicy({ filter: { attribute: 'attributes.department', op: 'ne', value: 'Contractors' } }),
};
const zoe = (over: Partial<MappableIdentity> = {}): MappableIdentity => ({ id: 'i1', username: 'zoe', email: 'zoe@example.com', status: 'active', attributes: { department: 'Finance' }, ...over });

describe('planOperation: what an identity change asks of one connector', () => {
  it('creates the account of a newly covered identity with its mapped attributes', () => {
    expect(planOperation(rules, null, zoe())).toEqual({ operation_type: 'create', payload: { hook_operation: 'create', attributes: { userName: 'zoe', mail: 'zoe@example.com', department: 'Finance' } } });
    expect(planOperation(rules, null, zoe({ status: 'suspended' }))?.payload.enabled).toBe(false);
    expect(planOperation(rules, null, zoe({ username: '' }))?.payload.missing).toEqual(['userName']);
  });

  it('updates with the delta only, removing attributes that no longer map', () => {
    const plan = planOperation(rules, zoe(), zoe({ email: null, attributes: { department: 'Sales' } }));
    expect(plan).toEqual({
      operation_type: 'update',
      payload: { hook_operation: 'update', attributes: { userName: 'zoe', department: 'Sales' }, delta: { replace: { department: 'Sales' }, remove: ['mail'] } },
    });
  });

  it('makes enable and disable updates whose payload says so', () => {
    expect(planOperation(rules, zoe(), zoe({ status: 'inactive' }))?.payload).toMatchObject({ hook_operation: 'disable', enabled: false });
    expect(planOperation(rules, zoe({ status: 'suspended' }), zoe())?.payload).toMatchObject({ hook_operation: 'enable', enabled: true });
    // Activity and attributes together: an update that also says enabled.
    expect(planOperation(rules, zoe(), zoe({ status: 'inactive', email: 'z@example.com' }))?.payload).toMatchObject({ hook_operation: 'update', enabled: false });
  });

  it('with a mapping script, any change of a covered identity is an update (the script may read what the rules do not)', () => {
    const scripted = { ...rules, scripted: true };
    const change = [zoe(), zoe({ attributes: { department: 'Finance', cost_centre: '42' } })] as const;
    expect(planOperation(rules, ...change)).toBeNull();
    expect(planOperation(scripted, ...change)).toEqual({ operation_type: 'update', payload: { hook_operation: 'update', attributes: { userName: 'zoe', mail: 'zoe@example.com', department: 'Finance' }, delta: { replace: {}, remove: [] } } });
    expect(planOperation(scripted, zoe(), zoe())).toBeNull();
  });

  it('deletes when the policy stops covering the identity, and does nothing when the target would not change', () => {
    expect(planOperation(rules, zoe(), zoe({ status: 'deleted' }))?.operation_type).toBe('delete');
    expect(planOperation(rules, zoe(), zoe({ attributes: { department: 'Contractors' } }))?.operation_type).toBe('delete');
    expect(planOperation(rules, zoe(), zoe({ display_name: 'Zoë' }))).toBeNull();
    expect(planOperation(rules, null, zoe({ attributes: { department: 'Contractors' } }))).toBeNull();
    expect(planOperation(rules, zoe({ status: 'deleted' }), zoe({ status: 'deleted', email: 'x@example.com' }))).toBeNull();
  });
});

describe('conflictCase: defaults for two open operations of one account', () => {
  const op = (type: 'create' | 'update' | 'delete', replace: Record<string, string> = {}): OperationRow =>
    ({ operation_type: type, payload: { hook_operation: type, ...(type === 'update' ? { delta: { replace, remove: [] } } : { attributes: replace }) } }) as unknown as OperationRow;

  it('lets a later update supersede overlapping attributes and merges disjoint ones', () => {
    expect(conflictCase(op('update', { mail: 'a', title: 'x' }), op('update', { mail: 'b' }))).toMatchObject({ type: 'overlapping_update', attributes: ['mail'], outcome: 'superseded', cancels: null });
    expect(conflictCase(op('update', { mail: 'a' }), op('update', { title: 'b' }))).toBeNull();
  });

  it('rejects an update after a delete and a second create; a delete supersedes an earlier change', () => {
    expect(conflictCase(op('delete'), op('update', { mail: 'b' }))).toMatchObject({ type: 'update_after_delete', outcome: 'rejected', cancels: 'b' });
    expect(conflictCase(op('create', { userName: 'z' }), op('create', { userName: 'z' }))).toMatchObject({ type: 'duplicate_create', outcome: 'rejected', cancels: 'b' });
    expect(conflictCase(op('update', { mail: 'a' }), op('delete'))).toMatchObject({ type: 'delete_after_change', outcome: 'superseded', cancels: 'a' });
    expect(conflictCase(op('delete'), op('create', { userName: 'z' }))).toBeNull();
  });
});
