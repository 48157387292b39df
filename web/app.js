// The todo service's web page. It keeps a copy of every list and todo the
// person can read, made by a full sync of GET /v1/changes and kept up to
// date by GET /v1/events; every change is written through the API, and the
// page shows it when its event comes back. Every text from the API is set
// as text, never parsed as HTML.

const mode = document.documentElement.dataset.mode // open, token or accounts
const $ = id => document.getElementById(id)
const copy = { lists: new Map(), todos: new Map() }
let me = null
let since = '0' // the feed's token of the copy
let editing = null // the id of the todo being edited, and its form
let editor = null
let session = null // an AbortController per signed-in session

// --- the API ---

class APIError extends Error {
  constructor (status, problem) {
    super(problem.detail || `status ${status}`)
    this.status = status
    this.problem = problem
  }
}

function credentials () {
  const token = sessionStorage.getItem('todo-token') // the shared token, for this tab only
  return mode === 'token' && token ? { Authorization: 'Bearer ' + token } : {}
}

async function api (method, path, body) {
  const headers = credentials()
  if (body !== undefined) headers['Content-Type'] = 'application/json'
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
  if (!res.ok) {
    const problem = await res.json().catch(() => ({}))
    if (res.status === 401 && path !== '/v1/session') signedOut()
    throw new APIError(res.status, problem)
  }
  return res.status === 204 ? null : res.json()
}

// report shows a failed write in the status line.
function report (err) {
  $('status').textContent = err.message
}

// --- signing in and out ---

async function start () {
  try {
    me = await api('GET', '/v1/me')
  } catch (err) {
    if (err.status === 401) return showSignIn()
    return report(err)
  }
  $('sign-in').hidden = true
  $('app').hidden = false
  $('sign-out').hidden = mode === 'open'
  session = new AbortController()
  await fullSync()
  render()
  follow(session.signal)
}

function showSignIn () {
  $('app').hidden = true
  $('sign-out').hidden = true
  $('sign-in').hidden = false
  const token = mode === 'token'
  $('name-field').hidden = token
  $('password-field').hidden = token
  $('token-field').hidden = !token
  for (const input of $('sign-in-form').querySelectorAll('input')) input.required = !input.closest('label').hidden
  $('sign-in-form').querySelector('label:not([hidden]) input').focus()
}

function signedOut () {
  if (session) session.abort()
  session = null
  copy.lists.clear()
  copy.todos.clear()
  since = '0'
  showSignIn()
}

$('sign-in-form').addEventListener('submit', async e => {
  e.preventDefault()
  const form = e.target
  $('sign-in-error').textContent = ''
  try {
    if (mode === 'token') {
      sessionStorage.setItem('todo-token', form.elements.token.value)
      await api('GET', '/v1/me')
    } else {
      await api('POST', '/v1/session', { name: form.elements.name.value, password: form.elements.password.value })
    }
  } catch (err) {
    sessionStorage.removeItem('todo-token')
    $('sign-in-error').textContent = err.status === 401 ? 'The ' + (mode === 'token' ? 'token' : 'name or the password') + ' is not right.' : err.message
    return
  }
  form.reset()
  location.hash = ''
  start()
})

$('sign-out').addEventListener('click', async () => {
  if (mode === 'accounts') await api('DELETE', '/v1/session').catch(() => {})
  sessionStorage.removeItem('todo-token')
  signedOut()
})

// --- the copy: a full sync, then the events ---

function apply (c) {
  if (c.kind === 'todo' && c.op === 'put') copy.todos.set(c.todo.id, c.todo)
  else if (c.kind === 'todo') copy.todos.delete(c.id)
  else if (c.op === 'put') copy.lists.set(c.list.id, c.list)
  else {
    copy.lists.delete(c.id)
    for (const [id, t] of copy.todos) if (t.list_id === c.id) copy.todos.delete(id)
  }
}

async function fullSync () {
  copy.lists.clear()
  copy.todos.clear()
  let token = '0'
  let page
  do {
    page = await api('GET', `/v1/changes?limit=5000&since=${encodeURIComponent(token)}`)
    page.changes.forEach(apply)
    token = page.next
  } while (page.more)
  since = token
}

// follow reads the event stream (with fetch, so that a token can go in a
// header), and after a dropped connection reconnects from the last id.
async function follow (signal) {
  while (!signal.aborted) {
    let reset = false
    try {
      const res = await fetch('/v1/events?since=' + encodeURIComponent(since), { headers: credentials(), signal })
      if (res.status === 401) return signedOut()
      if (!res.ok) throw new Error(`status ${res.status}`)
      $('status').textContent = ''
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
      let buffer = ''
      let event = {}
      for (;;) {
        const { value, done } = await reader.read()
        if (done) break
        buffer += value
        let end
        while ((end = buffer.indexOf('\n')) >= 0) {
          const line = buffer.slice(0, end)
          buffer = buffer.slice(end + 1)
          if (line === '') {
            if (event.event === 'reset') reset = true
            else if (event.event === 'change' && event.data !== undefined) {
              apply(JSON.parse(event.data))
              if (event.id !== undefined) since = event.id
              scheduleRender()
            }
            event = {}
          } else if (!line.startsWith(':')) {
            const colon = line.indexOf(':')
            const field = colon < 0 ? line : line.slice(0, colon)
            const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '')
            event[field] = field === 'data' && event.data !== undefined ? event.data + '\n' + value : value
          }
        }
      }
    } catch (err) {
      if (signal.aborted) return
    }
    if (reset) { // the stream's start was older than the change log keeps
      await fullSync().catch(report)
      render()
      continue
    }
    $('status').textContent = 'Offline: reconnecting…'
    await new Promise(resolve => setTimeout(resolve, 2000))
  }
}

// --- showing it ---

let pending = false
function scheduleRender () {
  if (!pending) {
    pending = true
    requestAnimationFrame(() => { pending = false; render() })
  }
}

function sortedLists () {
  const lists = [...copy.lists.values()]
  return lists.sort((a, b) => (a.role !== 'owner') - (b.role !== 'owner') || a.id - b.id)
}

function shownList () {
  const id = Number(location.hash.replace('#list-', ''))
  return copy.lists.get(id) || sortedLists().find(l => l.default && l.role === 'owner') || sortedLists()[0]
}

function todosOf (list) {
  return [...copy.todos.values()].filter(t => t.list_id === list.id).sort((a, b) => a.order - b.order || a.id - b.id)
}

function el (tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props)
  for (const [k, v] of Object.entries(props.attrs || {})) node.setAttribute(k, v)
  node.append(...children)
  return node
}

function render () {
  const focused = document.activeElement && document.activeElement.dataset.key
  const list = shownList()
  renderLists(list)
  renderList(list)
  if (focused) { // the same control, drawn again, keeps the focus
    const again = document.querySelector(`[data-key="${focused}"]`)
    const other = document.querySelector(`[data-key="${focused.replace(/-up-|-down-/, m => m === '-up-' ? '-down-' : '-up-')}"]`)
    if (again && !again.disabled) again.focus()
    else if (again && other && !other.disabled) other.focus() // moved to an end: its other move
    else if (!again && focused.startsWith('todo-')) $('new-todo').elements.title.focus()
  }
}

function renderLists (shown) {
  $('lists').replaceChildren(...sortedLists().map(l => {
    const link = el('a', { href: '#list-' + l.id, textContent: l.title })
    link.dataset.key = 'list-' + l.id
    if (shown && l.id === shown.id) link.setAttribute('aria-current', 'page')
    const item = el('li', {}, link)
    if (l.role !== 'owner') item.append(el('span', { className: 'owner', textContent: `${l.owner}'s, ${l.role}` }))
    return item
  }))
}

function renderList (list) {
  $('list').hidden = !list
  if (!list) return
  const writer = list.role === 'owner' || list.role === 'editor'
  $('list-title').textContent = list.title
  $('rename-list').hidden = !writer
  $('share-list').hidden = list.role !== 'owner' || mode !== 'accounts' // sharing is between accounts
  $('delete-list').hidden = list.role !== 'owner' || list.default
  $('new-todo').hidden = !writer
  if ($('share-panel').dataset.list !== String(list.id)) closeShare()
  if ($('rename-form').dataset.list !== String(list.id)) $('rename-form').hidden = true
  const all = todosOf(list)
  const q = $('search').value.trim().toLowerCase()
  const hide = $('hide-completed').checked
  const shown = all.filter(t => (!hide || !t.completed) &&
    (!q || t.title.toLowerCase().includes(q) || t.notes.toLowerCase().includes(q)))
  if (editing !== null && !copy.todos.has(editing)) closeEditor()
  $('todos').replaceChildren(...shown.map(t => renderTodo(t, all, writer)))
}

function renderTodo (t, all, writer) {
  const item = el('li', { className: t.completed ? 'done' : '' })
  const check = el('input', { type: 'checkbox', id: 'done-' + t.id, checked: t.completed, disabled: !writer })
  check.dataset.key = 'todo-check-' + t.id
  check.addEventListener('change', () => api('PATCH', `/v1/todos/${t.id}`, { completed: check.checked }).catch(report))
  item.append(check, el('label', { htmlFor: 'done-' + t.id, className: 'title', textContent: t.title }))
  if (writer) {
    const at = all.indexOf(t)
    item.append(
      button('Edit', 'Edit ' + t.title, 'todo-edit-' + t.id, () => openEditor(t)),
      button('Delete', 'Delete ' + t.title, 'todo-delete-' + t.id, () => api('DELETE', `/v1/todos/${t.id}`).catch(report)),
      button('↑', `Move ${t.title} up`, 'todo-up-' + t.id, () => move(t, -1), at === 0),
      button('↓', `Move ${t.title} down`, 'todo-down-' + t.id, () => move(t, 1), at === all.length - 1))
  }
  if (t.due) item.append(el('p', { className: 'due', textContent: 'Due ' + new Date(t.due).toLocaleString() }))
  if (t.notes) item.append(el('p', { className: 'notes', textContent: t.notes }))
  if (editing === t.id) item.append(editor)
  return item
}

function button (text, label, key, onClick, disabled = false) {
  const b = el('button', { type: 'button', textContent: text, disabled, className: 'quiet' })
  b.setAttribute('aria-label', label)
  b.dataset.key = key
  b.addEventListener('click', onClick)
  return b
}

// --- todos ---

$('new-todo').addEventListener('submit', e => {
  e.preventDefault()
  const list = shownList()
  const input = e.target.elements.title
  const order = Math.max(-1, ...todosOf(list).map(t => t.order)) + 1 // at the end
  api('POST', '/v1/todos', { title: input.value, list_id: list.id, order }).then(() => { input.value = '' }, report)
})

// move swaps a todo with its neighbour in the list's order, and writes
// order so that sort=order gives the new order: two writes when the list's
// orders are distinct, else the list renumbered.
async function move (t, by) {
  const all = todosOf(shownList())
  const at = all.indexOf(t)
  const other = all[at + by]
  if (!other) return
  const writes = []
  if (new Set(all.map(x => x.order)).size === all.length) {
    writes.push([t, other.order], [other, t.order])
  } else {
    [all[at], all[at + by]] = [all[at + by], all[at]]
    all.forEach((x, i) => { if (x.order !== i) writes.push([x, i]) })
  }
  await Promise.all(writes.map(([x, order]) => api('PATCH', `/v1/todos/${x.id}`, { order }))).catch(report)
}

function localInput (iso) { // an instant as a datetime-local value, in the browser's time zone
  if (!iso) return ''
  const d = new Date(iso)
  const pad = n => String(n).padStart(2, '0')
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`
}

function openEditor (t) {
  closeEditor()
  editing = t.id
  const title = el('input', { name: 'title', value: t.title, required: true, maxLength: 500 })
  const notes = el('textarea', { name: 'notes', value: t.notes, maxLength: 10000, rows: 3 })
  const due = el('input', { name: 'due', type: 'datetime-local', value: localInput(t.due) })
  const cancel = el('button', { type: 'button', textContent: 'Cancel', className: 'quiet' })
  editor = el('form', { className: 'editor' },
    el('label', {}, 'Title', title), el('label', {}, 'Notes', notes), el('label', {}, 'Due', due),
    el('div', { className: 'inline' }, el('button', { type: 'submit', textContent: 'Save' }), cancel))
  editor.addEventListener('submit', e => {
    e.preventDefault()
    const body = { title: title.value, notes: notes.value, due: due.value ? new Date(due.value).toISOString() : null }
    api('PATCH', `/v1/todos/${t.id}`, body).then(() => closeEditor(t.id), report)
  })
  cancel.addEventListener('click', () => closeEditor(t.id))
  editor.addEventListener('keydown', e => { if (e.key === 'Escape') closeEditor(t.id) })
  render()
  title.focus()
}

// closeEditor closes the editor, and gives the focus back to the Edit
// button of the todo id, when it was in the editor.
function closeEditor (id) {
  if (!editor) return
  const inside = editor.contains(document.activeElement)
  editor.remove()
  editor = editing = null
  if (id !== undefined) {
    render()
    if (inside) document.querySelector(`[data-key="todo-edit-${id}"]`)?.focus()
  }
}

$('search').addEventListener('input', render)
$('hide-completed').addEventListener('change', render)
window.addEventListener('hashchange', () => { closeEditor(); render() })

// --- lists ---

$('new-list').addEventListener('submit', async e => {
  e.preventDefault()
  const input = e.target.elements.title
  try {
    const list = await api('POST', '/v1/lists', { title: input.value })
    input.value = ''
    location.hash = 'list-' + list.id
  } catch (err) { report(err) }
})

$('rename-list').addEventListener('click', () => {
  const form = $('rename-form')
  form.dataset.list = shownList().id
  form.elements.title.value = shownList().title
  form.hidden = false
  form.elements.title.focus()
})
$('rename-form').addEventListener('submit', e => {
  e.preventDefault()
  const form = e.target
  api('PATCH', `/v1/lists/${shownList().id}`, { title: form.elements.title.value }).then(() => {
    form.hidden = true
    $('rename-list').focus()
  }, report)
})
$('rename-form').querySelector('.cancel').addEventListener('click', () => { $('rename-form').hidden = true; $('rename-list').focus() })
$('rename-form').addEventListener('keydown', e => { if (e.key === 'Escape') { $('rename-form').hidden = true; $('rename-list').focus() } })

$('delete-list').addEventListener('click', () => {
  const list = shownList()
  const dialog = $('confirm')
  $('confirm-text').textContent = `Delete the list “${list.title}” and its todos?`
  dialog.returnValue = ''
  dialog.onclose = () => {
    if (dialog.returnValue === 'delete') api('DELETE', `/v1/lists/${list.id}`).then(() => { location.hash = '' }, report)
    else $('delete-list').focus()
  }
  dialog.showModal()
})

// --- sharing ---

function closeShare () {
  const panel = $('share-panel')
  if (!panel.hidden && panel.contains(document.activeElement)) $('share-list').focus()
  panel.hidden = true
  delete panel.dataset.list
}

async function loadMembers () {
  const list = shownList()
  const members = await api('GET', `/v1/lists/${list.id}/members`)
  $('members').replaceChildren(...members.map(m => el('li', {}, `${m.user} (${m.role}) `,
    button('Remove', 'Remove ' + m.user, 'member-' + m.user, () =>
      api('DELETE', `/v1/lists/${list.id}/members/${encodeURIComponent(m.user)}`).then(loadMembers, report)))))
}

$('share-list').addEventListener('click', () => {
  const panel = $('share-panel')
  if (!panel.hidden) return closeShare()
  panel.dataset.list = shownList().id
  panel.hidden = false
  $('share-error').textContent = ''
  loadMembers().catch(report)
  $('member-form').elements.user.focus()
})
$('share-panel').addEventListener('keydown', e => { if (e.key === 'Escape') closeShare() })
$('member-form').addEventListener('submit', async e => {
  e.preventDefault()
  const form = e.target
  $('share-error').textContent = ''
  try {
    await api('PUT', `/v1/lists/${shownList().id}/members/${encodeURIComponent(form.elements.user.value.trim())}`, { role: form.elements.role.value })
    form.elements.user.value = ''
    await loadMembers()
  } catch (err) {
    $('share-error').textContent = err.status === 404 ? `There is no account named “${form.elements.user.value}”.` : err.message
  }
})

// A reload shows the default list, as a sign-in does.
history.replaceState(null, '', location.pathname)
if (mode === 'token' && !sessionStorage.getItem('todo-token')) showSignIn()
else start()
