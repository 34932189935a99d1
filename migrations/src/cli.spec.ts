import { main, readTarget } from './cli';

describe('migrations CLI arguments and environment', () => {
  let stderr: jest.SpyInstance;
  beforeEach(() => {
    stderr = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
  });
  afterEach(() => stderr.mockRestore());

  it('reads the database and schema, hiding credentials', () => {
    expect(readTarget({ DATABASE_URL: 'postgres://u:secret@db.example:6543/provisio', DATABASE_SCHEMA: 'staging' })).toEqual({
      url: 'postgres://u:secret@db.example:6543/provisio',
      database: 'provisio',
      schema: 'staging',
      display: 'db.example:6543/provisio schema staging',
    });
    expect(readTarget({ DATABASE_URL: 'postgresql://h/db' }).schema).toBe('public');
  });

  it.each([
    [{}, /DATABASE_URL is not set/],
    [{ DATABASE_URL: 'mysql://h/db' }, /must be a postgres:\/\/ URL/],
    [{ DATABASE_URL: 'postgres://h' }, /names no database/],
    [{ DATABASE_URL: 'postgres://h/db', DATABASE_SCHEMA: 'Robert"; DROP' }, /DATABASE_SCHEMA/],
  ])('refuses %j', (env, message) => {
    expect(() => readTarget(env)).toThrow(message);
  });

  it('exits non-zero with the usage on an unknown command or flag, before touching a database', async () => {
    expect(await main(['migrate'], {})).toBe(1);
    expect(await main(['run', '--all'], {})).toBe(1);
    expect(await main([], {})).toBe(1);
    expect(stderr.mock.calls.map((c) => String(c[0]))).toEqual(Array(3).fill(expect.stringContaining('usage: node migrations/dist/cli.js run | revert [--all] | show')));
  });

  it('names the missing variable', async () => {
    expect(await main(['run'], {})).toBe(1);
    expect(String(stderr.mock.calls[0][0])).toBe('[migrations] run failed: DATABASE_URL is not set (e.g. postgres://user:password@host:5432/provisio)\n');
  });
});
