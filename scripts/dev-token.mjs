// `npm run token -- --tenant <uuid> --permissions script:read,script:write [--sub alice] [--ttl 8h]`
// Mints an HS256 development token with the secret `npm start` uses (.stack/dev-jwt-secret or AUTH_JWT_SECRET).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT } from './lib.mjs';

const require = createRequire(import.meta.url);
const jwt = require('jsonwebtoken');
const { values } = parseArgs({
  options: {
    tenant: { type: 'string' },
    permissions: { type: 'string', default: '*' },
    sub: { type: 'string', default: 'developer' },
    ttl: { type: 'string', default: '8h' },
  },
});
if (!values.tenant) {
  process.stderr.write('usage: npm run token -- --tenant <uuid> [--permissions a,b] [--sub id] [--ttl 8h]\n');
  process.exit(2);
}
const secret = process.env.AUTH_JWT_SECRET ?? readFileSync(join(ROOT, '.stack', 'dev-jwt-secret'), 'utf8').trim();
const token = jwt.sign({ sub: values.sub, tenant_id: values.tenant, permissions: values.permissions.split(',') }, secret, { algorithm: 'HS256', expiresIn: values.ttl });
process.stdout.write(`${token}\n`);
