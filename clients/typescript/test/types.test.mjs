// The hand-written types (src/index.d.ts) against the service's contract: every model interface has exactly the
// properties of its OpenAPI schema (docs/api/openapi.json), optional where the schema does not require them, of the same
// type and nullable where it is; every event interface has exactly the fields of its AsyncAPI payloads
// (docs/api/asyncapi.json). Reads the .d.ts simply: its interfaces are one property per line. Needs no service.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

const read = (path) => readFileSync(new URL(path, import.meta.url), 'utf8');
const declarations = interfacesOf(read('../src/index.d.ts'));
const openapi = JSON.parse(read('../../../docs/api/openapi.json'));
const asyncapi = JSON.parse(read('../../../docs/api/asyncapi.json'));

/** Each interface of the .d.ts model → where its schema is in the OpenAPI document. */
const models = {
  SubmitJobRequest: ['SubmitJobRequest'],
  JobAccepted: ['JobAccepted'],
  JobStatus: ['JobStatusResponse'],
  JobError: ['JobStatusResponse', 'error'],
  CancelAccepted: ['CancelAccepted'],
  JobHistory: ['JobHistory'],
  StoredEvent: ['JobHistory', 'events', '[]'],
  EventMetadata: ['JobHistory', 'events', '[]', 'metadata'],
  Problem: ['Problem'],
};

/** Each event name of a job's stream → its interface. */
const events = {
  queued: 'QueuedEvent', processing: 'ProcessingEvent', progress: 'ProgressEvent', waiting: 'WaitingEvent',
  completed: 'CompletedEvent', failed: 'FailedEvent', cancelled: 'CancelledEvent',
};

/** What the client adds to every event's data: the SSE fields, and whether it is the last. */
const sseFields = ['sequence', 'name', 'isFinal'];

for (const [name, [schemaName, ...path]] of Object.entries(models)) {
  test(`${name} has the properties of the OpenAPI schema ${[schemaName, ...path].join('.')}`, () => {
    let schema = resolve(openapi, openapi.components.schemas[schemaName]);
    for (const step of path)
      schema = resolve(openapi, step === '[]' ? schema.items : schema.properties[step]);
    const fields = Object.fromEntries(Object.entries(schema.properties).map(([field, s]) =>
      [field, { required: (schema.required ?? []).includes(field), schemas: [resolve(openapi, s)] }]));
    assertMatches(name, declared(name), fields);
  });
}

test('the stream\'s event names are those the types know', () => {
  assert.deepEqual(Object.keys(asyncapi.channels.jobEvents.messages).sort(), Object.keys(events).sort());
});

for (const [event, name] of Object.entries(events)) {
  test(`${name} has the fields of the AsyncAPI payloads of '${event}'`, () => {
    const payload = resolve(asyncapi, asyncapi.components.messages[event].payload);
    const variants = (payload.oneOf ?? [payload]).map((v) => resolve(asyncapi, v));
    const fields = {};
    for (const variant of variants) {
      for (const [field, s] of Object.entries(variant.properties))
        (fields[field] ??= { required: true, schemas: [] }).schemas.push(resolve(asyncapi, s));
    }
    // A field is required only when every kind of event of that name has it.
    for (const [field, f] of Object.entries(fields))
      f.required = variants.every((v) => (v.required ?? []).includes(field));
    const props = declared(name);
    for (const field of sseFields)
      delete props[field];
    assertMatches(name, props, fields);
  });
}

function assertMatches(name, props, fields) {
  assert.deepEqual(Object.keys(props).sort(), Object.keys(fields).sort(), `${name}'s properties against the contract's`);
  for (const [field, { required, schemas }] of Object.entries(fields)) {
    const prop = props[field];
    assert.equal(prop.optional, !required, `${name}.${field} is ${required ? 'required' : 'optional'} in the contract`);
    const nullable = schemas.some((s) => [s.type].flat().includes('null'));
    assert.equal(prop.types.includes('null'), nullable, `${name}.${field} is ${nullable ? '' : 'not '}nullable in the contract`);
    const declaredType = prop.types.filter((t) => t !== 'null').join(' | ');
    for (const s of schemas) {
      const expected = tsType(s);
      if (expected !== undefined)
        assert.equal(declaredType, expected, `${name}.${field}'s type`);
    }
  }
}

/** The TypeScript type a schema calls for; undefined for an object with properties (an interface of its own, checked above). */
function tsType(schema) {
  if ('const' in schema)
    return typeof schema.const;
  if (schema.enum)
    return typeof schema.enum[0];
  const types = [schema.type].flat().filter((t) => t !== undefined && t !== 'null');
  if (types.length === 0)
    return schema.properties ? undefined : 'unknown';
  const [type] = types;
  if (type === 'integer' || type === 'number')
    return 'number';
  if (type === 'array') {
    const item = tsType(schema.items);
    return item === undefined ? undefined : `${item}[]`;
  }
  if (type === 'object')
    return schema.additionalProperties ? `Record<string, ${tsType(schema.additionalProperties)}>` : undefined;
  return type;
}

/** A schema with its $ref followed and its allOf merged. */
function resolve(document, schema) {
  if (schema?.$ref) {
    const target = schema.$ref.replace(/^#\//, '').split('/').reduce((node, key) => node[key], document);
    return resolve(document, { ...target, ...Object.fromEntries(Object.entries(schema).filter(([k]) => k !== '$ref')) });
  }
  if (schema?.allOf) {
    const parts = schema.allOf.map((part) => resolve(document, part));
    return Object.assign({}, ...parts, { properties: Object.assign({}, ...parts.map((p) => p.properties)) });
  }
  return schema;
}

/** The properties of an interface, with those of the one it extends. */
function declared(name) {
  const declaration = declarations[name] ?? assert.fail(`src/index.d.ts has no interface ${name}`);
  return { ...(declaration.extends ? declared(declaration.extends) : {}), ...structuredClone(declaration.props) };
}

/** The interfaces of a .d.ts: `export interface X extends Y {`, then one `name?: type;` per line, then `}`. */
function interfacesOf(text) {
  const found = {};
  for (const [, name, base, body] of text.matchAll(/^export interface (\w+)(?: extends (\w+))? \{\n(.*?)^\}/gms)) {
    const props = {};
    for (const [, prop, optional, type] of body.matchAll(/^ {2}(\w+)(\??): (.+);$/gm))
      props[prop] = { optional: optional === '?', types: type.split(' | ').map((t) => t.trim()) };
    found[name] = { extends: base, props };
  }
  return found;
}
