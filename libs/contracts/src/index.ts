export * from './topics/topics';
export * from './events/cloud-event';
export * from './events/event-types';
export * from './events/user-events';
export * from './auth/permissions';
export * from './queues/queues';
export * from './parameters/script-parameters';
