import { Caller, RegistryTestApp, startRegistry } from '../common/testing/registry-app';

describe('script-registry: validation', () => {
  let t: RegistryTestApp;
  let alice: Caller;

  beforeAll(async () => {
    t = await startRegistry();
    alice = t.caller({ subject: 'alice' });
  });
  afterAll(async () => t?.close());

  describe('validate', () => {
    it('accepts a valid module, with no errors and no warnings', async () => {
      const response = await alice.post('/scripts/validate', { source: 'export default async (ctx) => ({ ok: ctx.input });' }).expect(200);
      expect(response.body).toEqual({ valid: true, errors: [], warnings: [] });
    });

    it('reports a syntax error with its line and column', async () => {
      const response = await alice.post('/scripts/validate', { source: 'export default async (ctx) => {\n  const x = ;\n};' }).expect(200);
      expect(response.body).toMatchObject({ valid: false, errors: [{ line: 2, column: expect.any(Number), message: expect.stringMatching(/SyntaxError/) }] });
      expect(response.body.errors[0].column).toBeGreaterThan(1);
    });

    it('reports imports as errors and a missing default export as a warning (seed 000 script_body accepted)', async () => {
      const imports = await alice.post('/scripts/validate', { script_body: "import fs from 'fs';\nexport default () => fs;" }).expect(200);
      expect(imports.body).toMatchObject({ valid: false, errors: [{ line: 1, column: 1, message: expect.stringMatching(/cannot import/) }] });
      const noDefault = await alice.post('/scripts/validate', { source: 'const x = 1;' }).expect(200);
      expect(noDefault.body).toMatchObject({ valid: true, errors: [], warnings: [{ message: expect.stringMatching(/no default export/) }] });
    });

    it.each([
      [{}, 'source'],
      [{ source: 42 }, 'source'],
      [{ source: '' }, 'source'],
      [{ source: 'a', script_body: 'b' }, 'script_body'],
      [{ source: 'x', extra: 1 }, 'extra'],
    ])('answers 400 naming the field for %j', async (body, field) => {
      const response = await alice.post('/scripts/validate', body).expect(400);
      expect(response.body).toMatchObject({ status: 400, code: 'validation_failed', field });
    });

    it("validates a stored script's live version, or ?version=n", async () => {
      const script = await alice.createScript({ source: 'export default async () => 1;' });
      await alice.patch(`/scripts/${script.id}`, { source: 'export default async () => {' }).expect(200);
      const live = await alice.post(`/scripts/${script.id}/validate`).expect(200);
      expect(live.body).toMatchObject({ valid: false, script_id: script.id, version_number: 2 });
      const first = await alice.post(`/scripts/${script.id}/validate`).query({ version: 1 }).expect(200);
      expect(first.body).toEqual({ valid: true, errors: [], warnings: [], script_id: script.id, version_number: 1 });
      expect((await alice.post(`/scripts/${script.id}/validate`).query({ version: 9 }).expect(404)).body.code).toBe('not_found');
      expect((await alice.post(`/scripts/${script.id}/validate`).query({ version: 'one' }).expect(400)).body.field).toBe('version');
      expect((await alice.post('/scripts/not-a-uuid/validate').expect(400)).body.field).toBe('id');
    });

    it("keeps other tenants' scripts out of reach (404)", async () => {
      const theirs = await t.caller().createScript();
      await alice.post(`/scripts/${theirs.id}/validate`).expect(404);
      await alice.post(`/scripts/${theirs.id}/dry-run`, {}).expect(404);
    });
  });
});
