// Live traffic checked against api/openapi.json: the service's own binary
// (TODO_BIN), behind Prism's proxy with --errors, which answers a request or
// a response that breaks the document with an error of its own instead of
// passing it on. Every route of the document is called, with the statuses a
// client meets; each answer must be the service's, with the status wanted.
// (A request that breaks the document's own rules, a name in capitals or a
// limit of 0, Prism refuses itself: the Go tests send those to the service.)

import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, execFileSync } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import net from 'node:net'

const here = dirname(fileURLToPath(import.meta.url))
const bin = process.env.TODO_BIN || join(here, '..', 'webtest', 'todo')
const children = []
let base // Prism's address, in front of the service

function freePort () {
  return new Promise(resolve => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

before(async () => {
  const db = join(mkdtempSync(join(tmpdir(), 'todo-api-')), 'todo.db')
  for (const name of ['ann', 'bob']) execFileSync(bin, ['user', 'add', name], { input: `${name} password\n`, env: { ...process.env, TODO_DB: db } })
  const service = spawn(bin, [], { env: { ...process.env, TODO_ADDR: '127.0.0.1:0', TODO_DB: db, TODO_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'inherit'] })
  children.push(service)
  const upstream = await new Promise(resolve => service.stdout.once('data', d => resolve(d.toString().trim().replace('listening on ', ''))))
  const port = await freePort()
  const prism = spawn(join(here, 'node_modules', '.bin', 'prism'), ['proxy', join(here, '..', 'api', 'openapi.json'), upstream, '--errors', '-p', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] })
  children.push(prism)
  base = `http://127.0.0.1:${port}`
  for (let i = 0; ; i++) { // until Prism listens
    try { await fetch(base + '/healthz'); break } catch (err) { if (i > 100) throw err }
    await new Promise(resolve => setTimeout(resolve, 100))
  }
})
after(() => { for (const c of children) c.kill('SIGTERM') })

// call sends a request through Prism and checks that the service answered
// it with status, and that Prism found nothing wrong on the way.
// An ndjson body (a string) is sent as it is, as an import.
async function call (method, path, status, { body, ndjson, headers = {} } = {}) {
  const res = await fetch(base + path, {
    method,
    headers: { ...(body !== undefined && { 'Content-Type': 'application/json' }), ...(ndjson !== undefined && { 'Content-Type': 'application/x-ndjson' }), ...headers },
    body: ndjson ?? (body === undefined ? undefined : JSON.stringify(body))
  })
  const text = await res.text()
  assert.ok(!text.includes('stoplight.io/prism/errors'), `${method} ${path}: Prism says ${text}`)
  assert.equal(res.status, status, `${method} ${path}: ${text}`)
  const type = res.headers.get('content-type') ?? ''
  return { res, json: text && /^application\/(problem\+)?json/.test(type) ? JSON.parse(text) : undefined }
}

const basic = name => 'Basic ' + Buffer.from(`${name}:${name} password`).toString('base64')

test('every route of the document, through Prism', async () => {
  await call('GET', '/healthz', 200)
  await call('GET', '/readyz', 200)
  await call('GET', '/openapi.json', 200)
  await call('GET', '/v1/todos', 401)
  const ann = { Authorization: 'Bearer ' + (await call('POST', '/v1/tokens', 201, { headers: { Authorization: basic('ann') }, body: { name: 'traffic' } })).json.token }
  const bob = { Authorization: 'Bearer ' + (await call('POST', '/v1/tokens', 201, { headers: { Authorization: basic('bob') } })).json.token }
  await call('POST', '/v1/tokens', 401, { headers: { Authorization: 'Basic ' + Buffer.from('ann:wrong').toString('base64') } })

  await call('GET', '/v1/me', 200, { headers: ann })
  await call('PATCH', '/v1/me', 403, { headers: bob, body: { password: 'a new password', current_password: 'not it' } })
  await call('GET', '/v1/users', 200, { headers: ann })
  await call('GET', '/v1/users', 403, { headers: bob })
  await call('POST', '/v1/users', 201, { headers: ann, body: { name: 'cy', password: 'cy password' } })
  await call('POST', '/v1/users', 409, { headers: ann, body: { name: 'cy', password: 'cy password' } })
  await call('PATCH', '/v1/users/cy', 200, { headers: ann, body: { admin: false } })
  await call('DELETE', '/v1/users/cy', 204, { headers: ann })
  await call('DELETE', '/v1/users/cy', 404, { headers: ann })

  const { json: list, res: made } = await call('POST', '/v1/lists', 201, { headers: ann, body: { title: 'Groceries' } })
  await call('GET', '/v1/lists', 200, { headers: ann })
  await call('GET', `/v1/lists/${list.id}`, 200, { headers: ann })
  await call('GET', `/v1/lists/${list.id}`, 404, { headers: bob })
  await call('PATCH', `/v1/lists/${list.id}`, 412, { headers: { ...ann, 'If-Match': '"999"' }, body: { title: 'x' } })
  await call('PATCH', `/v1/lists/${list.id}`, 200, { headers: { ...ann, 'If-Match': made.headers.get('etag') }, body: { title: 'Food' } })
  await call('PUT', `/v1/lists/${list.id}/members/bob`, 201, { headers: ann, body: { role: 'editor' } })
  await call('PUT', `/v1/lists/${list.id}/members/bob`, 200, { headers: ann, body: { role: 'viewer' } })
  await call('GET', `/v1/lists/${list.id}/members`, 200, { headers: bob })
  const imported = await call('POST', `/v1/todos?list_id=${list.id}`, 201, { headers: ann, ndjson: '{"title":"pears"}\n{"title":"plums","completed":true}\n' })
  assert.deepEqual(imported.json, { created: 2 })
  await call('POST', '/v1/todos', 422, { headers: ann, ndjson: '{"title":"fine"}\nnot json\n' })
  await call('POST', `/v1/todos?list_id=${list.id}`, 403, { headers: bob, ndjson: '{"title":"a viewer\'s"}' })
  await call('GET', '/v1/todos', 200, { headers: { ...ann, Accept: 'application/x-ndjson' } })

  const { json: todo, res: created } = await call('POST', '/v1/todos', 201, { headers: { ...ann, 'Idempotency-Key': 'k1' }, body: { title: 'apples', list_id: list.id, due: '2030-01-02T03:04:05Z' } })
  await call('POST', '/v1/todos', 201, { headers: { ...ann, 'Idempotency-Key': 'k1' }, body: { title: 'apples', list_id: list.id, due: '2030-01-02T03:04:05Z' } })
  await call('POST', '/v1/todos', 422, { headers: ann, body: { title: '' } })
  await call('GET', `/v1/todos/${todo.id}`, 200, { headers: bob })
  await call('GET', `/v1/todos/${todo.id}`, 304, { headers: { ...ann, 'If-None-Match': created.headers.get('etag') } })
  await call('PATCH', `/v1/todos/${todo.id}`, 403, { headers: bob, body: { completed: true } })
  await call('PATCH', `/v1/todos/${todo.id}`, 200, { headers: ann, body: { completed: true, notes: null } })
  await call('PUT', `/v1/todos/${todo.id}`, 200, { headers: ann, body: { title: 'green apples', order: 2 } })
  await call('PUT', `/v1/todos/${todo.id}`, 412, { headers: { ...ann, 'If-Match': '"1"' }, body: { title: 'x' } })
  await call('GET', `/v1/todos?list_id=${list.id}&sort=-order&limit=1`, 200, { headers: ann })
  await call('GET', '/v1/todos?completed=true&q=apple', 200, { headers: bob })
  await call('GET', '/v1/todos/999999', 404, { headers: ann })
  const page = (await call('GET', '/v1/changes?limit=2', 200, { headers: bob })).json
  await call('GET', '/v1/changes?since=' + encodeURIComponent(page.next), 200, { headers: bob })
  await call('GET', '/v1/changes?since=abc', 400, { headers: bob })
  await call('DELETE', `/v1/todos/${todo.id}`, 204, { headers: ann })
  await call('DELETE', '/v1/todos?completed=true', 204, { headers: ann })
  await call('DELETE', `/v1/lists/${list.id}/members/bob`, 204, { headers: bob })
  await call('DELETE', `/v1/lists/${list.id}`, 204, { headers: ann })
  await call('GET', '/metrics', 200, { headers: ann })
  await call('GET', '/metrics', 403, { headers: bob })

  const tokens = (await call('GET', '/v1/tokens', 200, { headers: bob })).json
  await call('DELETE', `/v1/tokens/${tokens[0].id}`, 204, { headers: bob })
  await call('GET', '/v1/me', 401, { headers: bob })
  const session = await call('POST', '/v1/session', 204, { body: { name: 'ann', password: 'ann password' } })
  const cookie = session.res.headers.get('set-cookie').split(';')[0]
  await call('DELETE', '/v1/session', 204, { headers: { Cookie: cookie, 'Sec-Fetch-Site': 'same-origin' } })
})
