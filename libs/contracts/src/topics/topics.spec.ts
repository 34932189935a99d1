import { TOPICS, Topic, dlqTopicOf, topicsToCreate } from './topics';

describe('topics', () => {
  it('gives every consumed topic a .dlq sibling, once', () => {
    const names = topicsToCreate().map((t) => t.name);
    for (const spec of TOPICS.filter((t) => t.consumed)) expect(names).toContain(`${spec.name}.dlq`);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toContain(Topic.ScriptEventsDlq);
  });

  it('applies a prefix to every name, DLQs included', () => {
    const names = topicsToCreate('staging.').map((t) => t.name);
    expect(names.every((n) => n.startsWith('staging.provisio.'))).toBe(true);
  });

  it('does not stack .dlq on a dead-letter topic', () => {
    expect(dlqTopicOf(Topic.ScriptEventsDlq)).toBe(Topic.ScriptEventsDlq);
    expect(dlqTopicOf(Topic.DomainEvents)).toBe('provisio.domain-events.dlq');
  });
});
