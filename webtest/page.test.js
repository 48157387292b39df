// Browser tests of the web page (API.md, "The web page"): the service's own
// binary (TODO_BIN) on a database in a temporary folder, Debian's chromium
// driven by playwright-core, role and label locators only, axe-core for
// accessibility. Screenshots go to ../docs/.

import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createRequire } from 'node:module'
import { once } from 'node:events'
import { chromium } from 'playwright-core'

const here = dirname(fileURLToPath(import.meta.url))
const bin = process.env.TODO_BIN || join(here, 'todo')
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8')
let browser
const services = []

before(async () => {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run']
  })
})
after(async () => {
  await browser?.close()
  for (const s of services) s.child.kill('SIGTERM')
})

// service starts the service on a fresh database, after making the accounts
// users (name → password; the first is an admin), with env added.
async function service ({ users = {}, env = {}, db = join(mkdtempSync(join(tmpdir(), 'todo-web-')), 'todo.db') } = {}) {
  for (const [name, password] of Object.entries(users)) {
    execFileSync(bin, ['user', 'add', name], { input: password + '\n', env: { ...process.env, TODO_DB: db } })
  }
  const child = spawn(bin, [], {
    env: { ...process.env, TODO_ADDR: '127.0.0.1:0', TODO_DB: db, TODO_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'inherit']
  })
  const base = await new Promise((resolve, reject) => {
    child.stdout.once('data', d => resolve(d.toString().trim().replace('listening on ', '')))
    child.once('exit', code => reject(new Error(`the service exited: ${code}`)))
  })
  const s = { base, child, db }
  services.push(s)
  return s
}

// open opens a page of a new browser context on the service, noting every
// request it makes and every error of its script.
async function open (s, options = {}) {
  const context = await browser.newContext(options)
  const page = await context.newPage()
  page.requests = []
  page.errors = []
  page.on('request', r => page.requests.push(r.url()))
  page.on('pageerror', e => page.errors.push(e.message))
  page.on('dialog', d => { page.errors.push('a dialog: ' + d.message()); d.dismiss() })
  await page.goto(s.base + '/')
  return page
}

// eventually polls cond (an async function) until it holds, for 10 s.
async function eventually (what, cond) {
  const deadline = Date.now() + 10_000
  for (;;) {
    if (await cond()) return
    if (Date.now() > deadline) assert.fail(`${what}: not within 10 s`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

const role = (page, r, name) => page.getByRole(r, { name, exact: true })

// todoTitles is the titles of the todos shown, in order.
async function todoTitles (page) {
  for (let i = 0; i < 100; i++) { // a checkbox taken while the list is drawn again has no label: look again
    const titles = await page.getByRole('list', { name: 'Todos', exact: true }).getByRole('checkbox').evaluateAll(
      boxes => boxes.map(b => b.labels[0]?.textContent))
    if (!titles.includes(undefined)) return titles
  }
  assert.fail('the todos were never still')
}

// addTodo adds a todo on page, by Enter or with the Add button, and waits
// until the page seen (page, or another person's) shows it.
async function addTodo (page, title, { button = false, seen = page } = {}) {
  await role(page, 'textbox', 'New todo').fill(title)
  if (button) await role(page, 'button', 'Add').click()
  else await role(page, 'textbox', 'New todo').press('Enter')
  await role(seen, 'checkbox', title).waitFor()
}

async function signIn (page, name, password) {
  await role(page, 'textbox', 'Name').fill(name)
  await role(page, 'textbox', 'Password').fill(password) // a password field has the textbox role
  await role(page, 'button', 'Sign in').click()
}

async function api (s, method, path, body, headers = {}) {
  const res = await fetch(s.base + path, {
    method, headers: { 'Content-Type': 'application/json', ...headers }, body: body && JSON.stringify(body)
  })
  assert.ok(res.ok, `${method} ${path}: ${res.status}`)
  return res.status === 204 ? null : res.json()
}

test('the open mode: todos and lists, by pointer', async () => {
  const s = await service()
  const page = await open(s)
  await role(page, 'heading', 'Inbox').waitFor()
  assert.equal(await role(page, 'navigation', 'Lists').getByRole('link', { name: 'Inbox', exact: true }).getAttribute('aria-current'), 'page')
  assert.equal(await role(page, 'button', 'Sign out').count(), 0)

  // Adding: Enter and the Add button, each at the end of the list.
  await addTodo(page, 'milk')
  await addTodo(page, 'bread', { button: true })
  await addTodo(page, 'eggs', { button: true })
  assert.deepEqual(await todoTitles(page), ['milk', 'bread', 'eggs'])
  assert.ok(await role(page, 'button', 'Move milk up').isDisabled())
  assert.ok(await role(page, 'button', 'Move eggs down').isDisabled())

  // Reorder: the page's order is the API's sort=order.
  await role(page, 'button', 'Move eggs up').click()
  await eventually('eggs moved up', async () => (await todoTitles(page)).join() === 'milk,eggs,bread')
  await role(page, 'button', 'Move milk down').click()
  await eventually('milk moved down', async () => (await todoTitles(page)).join() === 'eggs,milk,bread')
  const sorted = await api(s, 'GET', '/v1/todos?sort=order')
  assert.deepEqual(sorted.map(t => t.title), ['eggs', 'milk', 'bread'])

  // Complete, and hide the completed.
  await role(page, 'checkbox', 'milk').check()
  await eventually('milk completed', async () => (await api(s, 'GET', '/v1/todos?completed=true')).length === 1)
  await role(page, 'checkbox', 'Hide completed').check()
  await eventually('milk hidden', async () => (await todoTitles(page)).join() === 'eggs,bread')
  await role(page, 'checkbox', 'Hide completed').uncheck()

  // Edit: one editor at a time; title, notes, due in the browser's zone.
  await role(page, 'button', 'Edit bread').click()
  await role(page, 'button', 'Edit eggs').click() // closes the first without saving
  assert.equal(await role(page, 'textbox', 'Title').count(), 1)
  assert.equal(await role(page, 'textbox', 'Title').inputValue(), 'eggs')
  await role(page, 'textbox', 'Title').fill('free-range eggs')
  await role(page, 'textbox', 'Notes').fill('a dozen\nfrom the market')
  await page.getByLabel('Due', { exact: true }).fill('2030-05-06T07:08')
  await role(page, 'button', 'Save').click()
  await role(page, 'checkbox', 'free-range eggs').waitFor()
  const eggs = (await api(s, 'GET', '/v1/todos?q=free-range'))[0]
  assert.equal(eggs.notes, 'a dozen\nfrom the market')
  assert.equal(eggs.due, await page.evaluate(() => new Date('2030-05-06T07:08').toISOString()))
  await role(page, 'button', 'Edit bread').click()
  await role(page, 'button', 'Cancel').click()
  assert.equal(await role(page, 'textbox', 'Title').count(), 0)

  // Search filters as one types.
  await page.getByRole('searchbox', { name: 'Search' }).pressSequentially('bre')
  await eventually('the search', async () => (await todoTitles(page)).join() === 'bread')
  await page.getByRole('searchbox', { name: 'Search' }).fill('')
  await eventually('the search cleared', async () => (await todoTitles(page)).length === 3)

  // Delete a todo: no question asked.
  await role(page, 'button', 'Delete bread').click()
  await eventually('bread deleted', async () => (await todoTitles(page)).length === 2)

  // Lists: create, rename (and cancel), delete (asked first).
  await role(page, 'textbox', 'New list').fill('Errands')
  await role(page, 'button', 'Create list').click()
  await role(page, 'heading', 'Errands').waitFor()
  assert.equal(await role(page, 'link', 'Errands').getAttribute('aria-current'), 'page')
  assert.equal(await role(page, 'link', 'Inbox').getAttribute('aria-current'), null)
  assert.deepEqual(await todoTitles(page), [])
  await role(page, 'button', 'Rename list').click()
  await role(page, 'textbox', 'List title').fill('Weekend errands')
  await role(page, 'button', 'Save').click()
  await role(page, 'heading', 'Weekend errands').waitFor()
  await role(page, 'link', 'Weekend errands').waitFor()
  await role(page, 'button', 'Rename list').click()
  await role(page, 'textbox', 'List title').fill('not this')
  await role(page, 'button', 'Cancel').click()
  assert.equal(await role(page, 'textbox', 'List title').isVisible(), false)
  await role(page, 'button', 'Delete list').click()
  await role(page, 'dialog').getByRole('button', { name: 'Cancel', exact: true }).click()
  await role(page, 'heading', 'Weekend errands').waitFor()
  await role(page, 'button', 'Delete list').click()
  await role(page, 'dialog').getByRole('button', { name: 'Delete', exact: true }).click()
  await role(page, 'heading', 'Inbox').waitFor()
  await eventually('the list gone', async () => await role(page, 'link', 'Weekend errands').count() === 0)
  assert.equal(await role(page, 'button', 'Delete list').isVisible(), false) // not on the default list

  assert.deepEqual(page.errors, [])
  const foreign = page.requests.filter(u => !u.startsWith(s.base + '/'))
  assert.deepEqual(foreign, [], 'no request leaves the service\'s origin')
  await page.context().close()
})

// tabTo presses Tab until the element of locator has the focus.
async function tabTo (page, locator) {
  for (let i = 0; i < 60; i++) {
    if (await locator.evaluate(el => el === document.activeElement).catch(() => false)) return
    await page.keyboard.press('Tab')
  }
  assert.fail('Tab never reached ' + locator)
}

test('the keyboard alone', async () => {
  const s = await service()
  const page = await open(s)
  await role(page, 'heading', 'Inbox').waitFor()
  const k = page.keyboard
  await tabTo(page, role(page, 'textbox', 'New todo'))
  await k.type('first')
  await k.press('Enter')
  await role(page, 'checkbox', 'first').waitFor()
  await k.type('second')
  await k.press('Enter')
  await role(page, 'checkbox', 'second').waitFor()

  await tabTo(page, role(page, 'checkbox', 'first'))
  await k.press('Space')
  await eventually('first completed', async () => (await api(s, 'GET', '/v1/todos?completed=true')).length === 1)

  await tabTo(page, role(page, 'button', 'Move second up'))
  await k.press('Enter')
  await eventually('second moved up', async () => (await todoTitles(page)).join() === 'second,first')
  // The focus stays with the todo that moved: its Move up is now disabled.
  assert.equal(await role(page, 'button', 'Move second down').evaluate(el => el === document.activeElement), true)

  await tabTo(page, role(page, 'button', 'Edit first'))
  await k.press('Enter')
  assert.equal(await role(page, 'textbox', 'Title').evaluate(el => el === document.activeElement), true)
  await k.press('Control+A')
  await k.type('the first')
  await k.press('Enter')
  await role(page, 'checkbox', 'the first').waitFor()

  await tabTo(page, role(page, 'button', 'Delete the first'))
  await k.press('Enter')
  await eventually('the first deleted', async () => (await todoTitles(page)).join() === 'second')

  await tabTo(page, role(page, 'textbox', 'New list'))
  await k.type('Keys')
  await k.press('Enter')
  await role(page, 'heading', 'Keys').waitFor()
  await tabTo(page, role(page, 'button', 'Delete list'))
  await k.press('Enter')
  await role(page, 'dialog').waitFor()
  await k.press('Shift+Tab') // from Cancel, which has the focus, to Delete
  await k.press('Enter')
  await role(page, 'heading', 'Inbox').waitFor()
  await tabTo(page, role(page, 'link', 'Inbox'))
  assert.deepEqual(page.errors, [])
  await page.context().close()
})

test('accounts: sign-in, sign-out, two people sharing a list live, accessible, secure', async () => {
  const s = await service({ users: { ann: 'ann password', bob: 'bob password' } })
  const ann = await open(s)
  await signIn(ann, 'ann', 'wrong password')
  await eventually('the alert', async () => (await ann.getByRole('alert').first().textContent()).includes('not right'))
  await signIn(ann, 'ann', 'ann password')
  await role(ann, 'button', 'Sign out').waitFor()
  await role(ann, 'heading', 'Inbox').waitFor()
  const cookie = (await ann.context().cookies()).find(c => c.name === 'todo_session')
  assert.ok(cookie.httpOnly && cookie.sameSite === 'Strict', JSON.stringify(cookie))
  assert.equal(await ann.evaluate(() => localStorage.length), 0)
  await ann.reload()
  await role(ann, 'heading', 'Inbox').waitFor() // still signed in, the default list shown

  await role(ann, 'textbox', 'New list').fill('Groceries')
  await role(ann, 'button', 'Create list').click()
  await role(ann, 'heading', 'Groceries').waitFor()
  await role(ann, 'button', 'Share').click()
  await role(ann, 'textbox', 'User').fill('nobody')
  await role(ann, 'button', 'Add member').click()
  await eventually('no such account', async () => (await ann.getByRole('alert').last().textContent()).includes('nobody'))
  await role(ann, 'textbox', 'User').fill('bob')
  await ann.getByRole('combobox', { name: 'Role', exact: true }).selectOption('editor')
  assert.deepEqual(await ann.getByRole('combobox', { name: 'Role', exact: true }).getByRole('option').allTextContents(), ['editor', 'viewer'])
  await role(ann, 'button', 'Add member').click()
  await role(ann, 'button', 'Remove bob').waitFor()
  await ann.keyboard.press('Escape')
  assert.equal(await role(ann, 'button', 'Remove bob').isVisible(), false)

  const bob = await open(s)
  await signIn(bob, 'bob', 'bob password')
  await role(bob, 'heading', 'Inbox').waitFor()
  await role(bob, 'link', 'Groceries').click()
  await role(bob, 'heading', 'Groceries').waitFor()
  await bob.reload()
  await role(bob, 'heading', 'Inbox').waitFor() // a reload shows the default list
  await role(bob, 'link', 'Groceries').click()
  await role(bob, 'heading', 'Groceries').waitFor()
  assert.equal(await role(bob, 'button', 'Share').isVisible(), false) // an editor
  assert.equal(await role(bob, 'button', 'Delete list').isVisible(), false)

  // Each sees the other's changes without a reload.
  await addTodo(ann, 'apples', { seen: bob })
  await addTodo(bob, 'pears', { button: true, seen: ann })
  await role(bob, 'checkbox', 'apples').check()
  await eventually('apples checked on ann\'s page', () => role(ann, 'checkbox', 'apples').isChecked())

  // A todo titled with markup is shown as text.
  await addTodo(ann, '<img src=x onerror=alert(1)>', { seen: bob })
  assert.equal(await bob.getByRole('img').count(), 0)

  // Axe on the signed-in page (its own CSP allows no injected script:
  // evaluate runs it as the browser's tooling does).
  await ann.evaluate(axeSource)
  const results = await ann.evaluate(() => window.axe.run())
  const bad = results.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
  assert.deepEqual(bad.map(v => `${v.id}: ${v.help} (${v.nodes.map(n => n.target).join(' ')})`), [])

  // The end of the sharing takes the list from bob's page.
  await role(ann, 'button', 'Share').click()
  await role(ann, 'button', 'Remove bob').click()
  await eventually('the list gone from bob\'s page', async () => await role(bob, 'link', 'Groceries').count() === 0)
  await role(bob, 'heading', 'Inbox').waitFor()

  await role(bob, 'button', 'Sign out').click()
  await role(bob, 'button', 'Sign in').waitFor()
  await bob.reload()
  await role(bob, 'button', 'Sign in').waitFor() // the session is gone

  const res = await fetch(s.base + '/')
  assert.equal(res.headers.get('content-security-policy'), "default-src 'self'")
  for (const page of [ann, bob]) {
    assert.deepEqual(page.errors, [])
    assert.deepEqual(page.requests.filter(u => !u.startsWith(s.base + '/')), [])
    await page.context().close()
  }
})

test('the shared-token mode: the token asked once, kept for the tab only', async () => {
  const s = await service({ env: { TODO_TOKEN: 'the household secret' } })
  const page = await open(s)
  await page.getByLabel('Token', { exact: true }).fill('a wrong one')
  await role(page, 'button', 'Sign in').click()
  await eventually('the alert', async () => (await page.getByRole('alert').first().textContent()).includes('not right'))
  await page.getByLabel('Token', { exact: true }).fill('the household secret')
  await role(page, 'button', 'Sign in').click()
  await role(page, 'heading', 'Inbox').waitFor()
  await role(page, 'textbox', 'New todo').fill('live with a token')
  await role(page, 'textbox', 'New todo').press('Enter')
  await role(page, 'checkbox', 'live with a token').waitFor() // through the events, with the token
  await page.reload()
  await role(page, 'heading', 'Inbox').waitFor() // not asked again in this tab
  assert.equal(await page.evaluate(() => localStorage.length), 0)
  const other = await open(s) // another tab, of another context: asked again
  await other.getByLabel('Token', { exact: true }).waitFor()
  assert.deepEqual(page.errors, [])
  await page.context().close()
  await other.context().close()
})

test('small and quick: the page\'s size, the first paint of 1,000 todos, screenshots', async t => {
  const s = await service({ users: { sam: 'sam password' } })
  const basic = 'Basic ' + Buffer.from('sam:sam password').toString('base64')
  const auth = { Authorization: 'Bearer ' + (await api(s, 'POST', '/v1/tokens', undefined, { Authorization: basic })).token }
  let bytes = 0
  for (const path of ['/', '/app.js', '/app.css', '/icon.svg']) bytes += (await (await fetch(s.base + path)).arrayBuffer()).byteLength
  t.diagnostic(`the page and its assets: ${bytes} bytes`)
  assert.ok(bytes < 100_000, `${bytes} bytes`)

  const titles = ['Pay the electricity bill', 'Book the dentist', 'Buy a birthday present for Sam', 'Water the plants',
    'Return the library books']
  for (const [i, title] of titles.entries()) {
    await api(s, 'POST', '/v1/todos', { title, order: i, completed: i === 1, notes: i === 2 ? 'something to read, or a plant' : '' }, auth)
  }
  await api(s, 'POST', '/v1/lists', { title: 'Garden' }, auth)
  for (const [name, size] of [['desktop', { width: 1280, height: 800 }], ['phone', { width: 390, height: 844 }]]) {
    const page = await open(s, { viewport: size })
    await signIn(page, 'sam', 'sam password')
    await role(page, 'checkbox', 'Water the plants').waitFor()
    await page.screenshot({ path: join(here, '..', 'docs', `page-${name}.png`), fullPage: true })
    await page.context().close()
  }

  for (let i = 0; i < 1000 - titles.length; i += 50) {
    await Promise.all(Array.from({ length: Math.min(50, 1000 - titles.length - i) }, (_, j) =>
      api(s, 'POST', '/v1/todos', { title: `todo number ${i + j}`, order: 10 + i + j }, auth)))
  }
  const page = await open(s)
  await signIn(page, 'sam', 'sam password')
  await role(page, 'checkbox', 'Water the plants').waitFor()
  const started = Date.now()
  await page.reload()
  await role(page, 'checkbox', 'todo number 994').waitFor()
  const painted = Date.now() - started
  assert.equal(await page.getByRole('checkbox').count(), 1001) // and Hide completed
  t.diagnostic(`first paint of 1,000 todos: ${painted} ms (from the reload to the last todo shown)`)
  await page.context().close()
})

test('a dropped connection: the page catches up', async () => {
  const first = await service()
  const port = new URL(first.base).port
  const page = await open(first)
  await role(page, 'heading', 'Inbox').waitFor()
  await addTodo(page, 'before the drop')

  // The service stops (its streams end), and comes back on the same address.
  first.child.kill('SIGTERM')
  await once(first.child, 'exit')
  const again = await service({ db: first.db, env: { TODO_ADDR: '127.0.0.1:' + port } })
  await api(again, 'POST', '/v1/todos', { title: 'while it was away' }) // before the page is back
  await role(page, 'checkbox', 'while it was away').waitFor()
  await api(again, 'POST', '/v1/todos', { title: 'once it was back' })
  await role(page, 'checkbox', 'once it was back').waitFor()
  assert.deepEqual(await todoTitles(page), ['before the drop', 'while it was away', 'once it was back'])
  assert.deepEqual(page.errors, [])
  await page.context().close()
})
