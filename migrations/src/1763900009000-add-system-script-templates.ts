import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Provisio's system script templates (seed 000 ScriptTemplate with `is_system = true`, `tenant_id NULL`):
 * visible to every tenant, not editable or deletable through the API. They cover the five categories
 * with what provisioning hooks keep re-implementing.
 *
 * How a template works (docs/registry-templates-bindings-runs.md): `{{name}}` in `template_body` is replaced, when the
 * template is instantiated, by the JavaScript LITERAL of the value given for it (`JSON.stringify`), so a
 * value can never become code; placeholders stand where an expression goes (`const DOMAIN = {{mail_domain}};`).
 * `placeholder_annotations` describes each placeholder (`name`, `type`, `description`, `required`,
 * `default`). Every template here is a valid sandbox script once its placeholders are filled, and runs
 * against the hook context of docs/script-api.md (`ctx.operation`, `ctx.identity`, `ctx.connector`),
 * returning `{ attributes }` (what to send) or `{ skip, reason }`; the registry's tests instantiate and
 * dry-run each one.
 *
 * The ids are fixed, so later migrations can change a template and `down()` removes exactly these rows
 * (scripts instantiated from them keep their source; their `template_id` becomes NULL).
 */
interface Placeholder {
  name: string;
  type: 'string' | 'number' | 'integer' | 'boolean' | 'json';
  description: string;
  required: boolean;
  default?: unknown;
}

interface SystemTemplate {
  id: string;
  name: string;
  category: 'attribute_mapping' | 'value_generation' | 'conditional_logic' | 'data_formatting' | 'custom';
  description: string;
  template_body: string;
  placeholder_annotations: Placeholder[];
}

const USERNAME_FORMATS = 'first.last, first_last, first-last, firstlast, flast, f.last, firstl, last.first, lastf, first, last, or a pattern with {first} {last} {middle} {f} {l} {m}';

export const SYSTEM_TEMPLATES: readonly SystemTemplate[] = [
  {
    id: '5f3c7a10-0000-4000-8000-000000000001',
    name: 'Username generation',
    category: 'value_generation',
    description: "Generates a lower-case ASCII username from the identity's first, middle and last name (accents transliterated), in a chosen format and length.",
    template_body: `// Username generation: a lower-case ASCII username from the identity's name.
const FORMAT = {{username_format}};
const MAX_LENGTH = {{max_length}};
const TARGET_ATTRIBUTE = {{target_attribute}};

export default async (ctx) => {
  const identity = ctx.identity ?? {};
  if (!identity.first_name && !identity.last_name) {
    throw new Error('the identity has neither first_name nor last_name');
  }
  const username = helpers.username({
    first: identity.first_name,
    last: identity.last_name,
    middle: identity.middle_name ?? undefined,
    format: FORMAT,
    maxLength: MAX_LENGTH,
  });
  console.info('username for', identity.id ?? '(unknown identity)', '->', username);
  return { attributes: { [TARGET_ATTRIBUTE]: username } };
};
`,
    placeholder_annotations: [
      { name: 'username_format', type: 'string', description: `Username format: ${USERNAME_FORMATS}.`, required: false, default: 'first.last' },
      { name: 'max_length', type: 'integer', description: 'Longest username; longer ones are cut (trailing separators dropped).', required: false, default: 20 },
      { name: 'target_attribute', type: 'string', description: 'Attribute that receives the username.', required: false, default: 'uid' },
    ],
  },
  {
    id: '5f3c7a10-0000-4000-8000-000000000002',
    name: 'Email address generation',
    category: 'value_generation',
    description: "Builds the account's email address from the identity's name and a mail domain (the connector's `settings.mail_domain` wins when set); an existing address can be kept.",
    template_body: `// Email address generation: <local part>@<domain>, transliterated and cleaned.
const LOCAL_PART_FORMAT = {{local_part_format}};
const MAIL_DOMAIN = {{mail_domain}};
const TARGET_ATTRIBUTE = {{target_attribute}};
const KEEP_EXISTING = {{keep_existing}};

export default async (ctx) => {
  const identity = ctx.identity ?? {};
  const existing = ctx.operation?.attributes?.[TARGET_ATTRIBUTE];
  if (KEEP_EXISTING && existing) return { attributes: { [TARGET_ATTRIBUTE]: existing } };
  const domain = ctx.connector?.settings?.mail_domain ?? MAIL_DOMAIN;
  const local = helpers.username({
    first: identity.first_name,
    last: identity.last_name,
    middle: identity.middle_name ?? undefined,
    format: LOCAL_PART_FORMAT,
  });
  const address = helpers.email(local, domain);
  console.info('email for', identity.id ?? '(unknown identity)', '->', address);
  return { attributes: { [TARGET_ATTRIBUTE]: address } };
};
`,
    placeholder_annotations: [
      { name: 'local_part_format', type: 'string', description: `Format of the local part: ${USERNAME_FORMATS}.`, required: false, default: 'first.last' },
      { name: 'mail_domain', type: 'string', description: "Mail domain, e.g. corp.example (IDN allowed); the connector's settings.mail_domain overrides it.", required: true },
      { name: 'target_attribute', type: 'string', description: 'Attribute that receives the address.', required: false, default: 'mail' },
      { name: 'keep_existing', type: 'boolean', description: 'Keep an address the operation already carries.', required: false, default: true },
    ],
  },
  {
    id: '5f3c7a10-0000-4000-8000-000000000003',
    name: 'Attribute mapping',
    category: 'attribute_mapping',
    description: 'Maps identity fields (dotted paths allowed, e.g. manager.email) to target attributes, plus fixed attributes such as objectClass.',
    template_body: `// Attribute mapping: target attribute <- identity field (a dotted path such as "manager.email").
const ATTRIBUTE_MAP = {{attribute_map}};
const STATIC_ATTRIBUTES = {{static_attributes}};
const SKIP_EMPTY = {{skip_empty}};

const read = (object, path) => String(path).split('.').reduce((value, key) => (value == null ? undefined : value[key]), object);

export default async (ctx) => {
  const identity = ctx.identity ?? {};
  const attributes = { ...STATIC_ATTRIBUTES };
  for (const [target, source] of Object.entries(ATTRIBUTE_MAP)) {
    const value = read(identity, source);
    if (SKIP_EMPTY && (value === undefined || value === null || value === '')) continue;
    attributes[target] = value ?? null;
  }
  return { attributes };
};
`,
    placeholder_annotations: [
      {
        name: 'attribute_map',
        type: 'json',
        description: 'Object of target attribute -> identity field (dotted path).',
        required: false,
        default: { uid: 'username', givenName: 'first_name', sn: 'last_name', mail: 'email', title: 'title', employeeNumber: 'employee_id' },
      },
      { name: 'static_attributes', type: 'json', description: 'Attributes sent as they are, e.g. {"objectClass": ["inetOrgPerson"]}.', required: false, default: { objectClass: ['inetOrgPerson'] } },
      { name: 'skip_empty', type: 'boolean', description: 'Leave out attributes whose identity field is empty, rather than sending null.', required: false, default: true },
    ],
  },
  {
    id: '5f3c7a10-0000-4000-8000-000000000004',
    name: 'Department to OU mapping',
    category: 'attribute_mapping',
    description: "Places the account in the organizational unit of the identity's department (case-insensitive lookup, a default OU otherwise) and builds its DN.",
    template_body: `// Department -> OU: the account's organizational unit and DN from the identity's department.
const OU_BY_DEPARTMENT = {{ou_by_department}};
const DEFAULT_OU = {{default_ou}};
const BASE_DN = {{base_dn}};
const DEPARTMENT_FIELD = {{department_field}};

export default async (ctx) => {
  const identity = ctx.identity ?? {};
  const department = helpers.normalize(identity[DEPARTMENT_FIELD] ?? '');
  const key = Object.keys(OU_BY_DEPARTMENT).find((name) => name.toLowerCase() === department.toLowerCase());
  const ou = key === undefined ? DEFAULT_OU : OU_BY_DEPARTMENT[key];
  if (key === undefined) console.warn('no OU for department', JSON.stringify(department), '- using', DEFAULT_OU);
  const uid = ctx.operation?.attributes?.uid ?? helpers.username({ first: identity.first_name, last: identity.last_name });
  return { attributes: { ou, dn: \`uid=\${uid},ou=\${ou},\${BASE_DN}\` } };
};
`,
    placeholder_annotations: [
      { name: 'ou_by_department', type: 'json', description: 'Object of department name -> OU name.', required: false, default: { Engineering: 'engineering', Sales: 'sales', 'Human Resources': 'hr', Finance: 'finance' } },
      { name: 'default_ou', type: 'string', description: 'OU for departments the map does not name.', required: false, default: 'people' },
      { name: 'base_dn', type: 'string', description: 'Base DN under which the OUs live, e.g. dc=corp,dc=example.', required: true },
      { name: 'department_field', type: 'string', description: 'Identity field holding the department.', required: false, default: 'department' },
    ],
  },
  {
    id: '5f3c7a10-0000-4000-8000-000000000005',
    name: 'Conditional group assignment',
    category: 'conditional_logic',
    description: "Assigns groups by rules on identity attributes (e.g. department = Engineering -> developers), on top of default groups.",
    template_body: `// Conditional group assignment: every rule whose attribute matches adds its groups.
// A rule: { "attribute": "department", "equals": "Engineering" (or a list), "groups": ["developers"] }.
const RULES = {{rules}};
const DEFAULT_GROUPS = {{default_groups}};
const TARGET_ATTRIBUTE = {{target_attribute}};

const matches = (value, expected) =>
  (Array.isArray(expected) ? expected : [expected]).some((e) => String(e).toLowerCase() === String(value ?? '').toLowerCase());

export default async (ctx) => {
  const identity = ctx.identity ?? {};
  const groups = new Set(DEFAULT_GROUPS);
  for (const rule of RULES) {
    if (matches(identity[rule.attribute], rule.equals)) {
      for (const group of rule.groups ?? []) groups.add(group);
    }
  }
  const assigned = [...groups].sort();
  console.info('groups for', identity.id ?? '(unknown identity)', ':', assigned.join(', ') || '(none)');
  return { attributes: { [TARGET_ATTRIBUTE]: assigned } };
};
`,
    placeholder_annotations: [
      {
        name: 'rules',
        type: 'json',
        description: 'List of { attribute, equals (a value or a list, case-insensitive), groups }.',
        required: false,
        default: [
          { attribute: 'department', equals: 'Engineering', groups: ['developers'] },
          { attribute: 'employment_type', equals: ['employee'], groups: ['staff'] },
        ],
      },
      { name: 'default_groups', type: 'json', description: 'Groups every identity gets.', required: false, default: ['all-users'] },
      { name: 'target_attribute', type: 'string', description: 'Attribute that receives the group list.', required: false, default: 'groups' },
    ],
  },
  {
    id: '5f3c7a10-0000-4000-8000-000000000006',
    name: 'Skip provisioning by condition',
    category: 'conditional_logic',
    description: 'Skips the connector operation for identities whose attribute has one of the given values (e.g. contractors are not provisioned to this system).',
    template_body: `// Skip by condition: { skip: true, reason } when the identity's attribute has one of SKIP_VALUES.
const ATTRIBUTE = {{attribute}};
const SKIP_VALUES = {{skip_values}};
const REASON = {{reason}};

export default async (ctx) => {
  const value = ctx.identity?.[ATTRIBUTE];
  const skip = SKIP_VALUES.some((v) => String(v).toLowerCase() === String(value ?? '').toLowerCase());
  if (skip) {
    console.info('skipping', ctx.operation?.type ?? 'the operation', 'for', ctx.identity?.id ?? '(unknown identity)', \`(\${ATTRIBUTE} = \${value})\`);
    return { skip: true, reason: REASON };
  }
  return { skip: false };
};
`,
    placeholder_annotations: [
      { name: 'attribute', type: 'string', description: 'Identity attribute to test.', required: false, default: 'employment_type' },
      { name: 'skip_values', type: 'json', description: 'Values (case-insensitive) for which the operation is skipped.', required: false, default: ['contractor', 'intern'] },
      { name: 'reason', type: 'string', description: 'Reason recorded with the skip.', required: false, default: 'not provisioned to this system' },
    ],
  },
  {
    id: '5f3c7a10-0000-4000-8000-000000000007',
    name: 'Date formatting',
    category: 'data_formatting',
    description: "Formats the identity's dates (start date, end date ...) in the target system's format, in UTC.",
    template_body: `// Date formatting: target attribute <- identity date field, formatted in UTC.
// Pattern tokens: YYYY YY MM DD HH mm ss SSS, [literal]; or ISO.
const DATE_FIELDS = {{date_fields}};
const PATTERN = {{pattern}};

export default async (ctx) => {
  const identity = ctx.identity ?? {};
  const attributes = {};
  for (const [target, source] of Object.entries(DATE_FIELDS)) {
    const value = identity[source];
    attributes[target] = value === undefined || value === null || value === '' ? null : helpers.formatDate(value, PATTERN);
  }
  return { attributes };
};
`,
    placeholder_annotations: [
      { name: 'date_fields', type: 'json', description: 'Object of target attribute -> identity date field (ISO string or epoch ms).', required: false, default: { startDate: 'start_date', accountExpires: 'end_date' } },
      { name: 'pattern', type: 'string', description: 'Output pattern, e.g. YYYYMMDD, YYYY-MM-DD, YYYYMMDDHHmmss[Z] or ISO.', required: false, default: 'YYYYMMDD' },
    ],
  },
  {
    id: '5f3c7a10-0000-4000-8000-000000000008',
    name: 'Display name normalisation',
    category: 'data_formatting',
    description: 'Builds a clean display name: whitespace collapsed, ALL-CAPS or all-lower words title-cased (mixed case such as McDonald kept), optionally ASCII only.',
    template_body: `// Display name normalisation from the identity's name parts.
// FORMAT uses {first}, {middle} and {last}, e.g. "{first} {last}" or "{last}, {first}".
const FORMAT = {{format}};
const FIX_CASE = {{fix_case}};
const ASCII_ONLY = {{ascii_only}};
const TARGET_ATTRIBUTE = {{target_attribute}};

// Words written all in capitals or all in lower case get a capital initial; mixed case (McDonald) is kept.
const fixCase = (name) =>
  name.replace(/\\p{L}[\\p{L}']*/gu, (word) =>
    word === word.toUpperCase() || word === word.toLowerCase() ? word.charAt(0).toUpperCase() + word.slice(1).toLowerCase() : word,
  );

export default async (ctx) => {
  const identity = ctx.identity ?? {};
  const part = (key) => helpers.normalize(identity[\`\${key}_name\`] ?? '');
  let name = FORMAT.replace(/\\{(first|middle|last)\\}/g, (_, key) => part(key));
  name = helpers.normalize(name).replace(/^[\\s,;-]+|[\\s,;-]+$/g, '').replace(/\\s+,/g, ',');
  if (FIX_CASE) name = fixCase(name);
  if (ASCII_ONLY) name = helpers.transliterate(name);
  if (!name) throw new Error('the identity has no name to display');
  return { attributes: { [TARGET_ATTRIBUTE]: name } };
};
`,
    placeholder_annotations: [
      { name: 'format', type: 'string', description: 'Display name format with {first}, {middle} and {last}.', required: false, default: '{first} {last}' },
      { name: 'fix_case', type: 'boolean', description: 'Title-case words written all in capitals or all in lower case.', required: false, default: true },
      { name: 'ascii_only', type: 'boolean', description: 'Transliterate to plain ASCII (José -> Jose).', required: false, default: false },
      { name: 'target_attribute', type: 'string', description: 'Attribute that receives the display name.', required: false, default: 'displayName' },
    ],
  },
  {
    id: '5f3c7a10-0000-4000-8000-000000000009',
    name: 'Custom hook skeleton',
    category: 'custom',
    description: 'A commented starting point for a hook of your own: the context it receives, what it may return, logging and settings.',
    template_body: `// A provisioning hook. It runs before or after a connector operation (see its hook binding).
//   ctx.operation - the connector operation: { type: 'create' | 'update' | ..., attributes }
//   ctx.identity  - the identity the operation is about
//   ctx.connector - the target connector (type, id, non-secret settings)
// Return { attributes } to change what is sent, { skip: true, reason } to skip the operation, or throw to
// fail it (the binding's failure_policy decides what happens next). fetch, helpers and console are there.
const HOOK_NAME = {{hook_name}};
const SETTINGS = {{settings}};

export default async (ctx) => {
  const { operation = {}, identity = {}, connector = {} } = ctx;
  console.info(HOOK_NAME, operation.type ?? 'operation', 'for', identity.id ?? '(unknown identity)', 'on', connector.type ?? 'connector');
  const attributes = { ...(operation.attributes ?? {}) };
  // Your logic here, for example:
  // attributes.description = \`managed by \${HOOK_NAME}\`;
  return { attributes, settings: SETTINGS };
};
`,
    placeholder_annotations: [
      { name: 'hook_name', type: 'string', description: 'A name for the hook, used in its log lines.', required: true },
      { name: 'settings', type: 'json', description: 'Settings of your own, available to the hook as SETTINGS.', required: false, default: {} },
    ],
  },
];

export class AddSystemScriptTemplates1763900009000 implements MigrationInterface {
  name = 'AddSystemScriptTemplates1763900009000';

  async up(queryRunner: QueryRunner): Promise<void> {
    for (const t of SYSTEM_TEMPLATES) {
      await queryRunner.query(
        `INSERT INTO script_templates (id, tenant_id, name, description, category, template_body, placeholder_annotations, is_system)
         VALUES ($1, NULL, $2, $3, $4, $5, $6::jsonb, true)`,
        [t.id, t.name, t.description, t.category, t.template_body, JSON.stringify(t.placeholder_annotations)],
      );
    }
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DELETE FROM script_templates WHERE id = ANY($1::uuid[]) AND tenant_id IS NULL', [SYSTEM_TEMPLATES.map((t) => t.id)]);
  }
}
