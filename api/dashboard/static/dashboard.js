// Drover's dashboard: one script, no dependencies, built on the public /api/v1 only.
// Every page is an HTML shell naming the page (body[data-page]); render() fills #app.
// Text from the API is only ever set as text (never parsed as HTML).

const API = "/api/v1";
const body = document.body;
const app = document.getElementById("app");
const FINAL = new Set(["Succeeded", "Failed", "Error", "Canceled", "Stopped", "Terminated"]);

// ---------------------------------------------------------------- helpers

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

function cookie(name) {
  const found = document.cookie.split("; ").find((c) => c.startsWith(name + "="));
  return found ? decodeURIComponent(found.slice(name.length + 1)) : null;
}

class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

async function api(path, { method = "GET", json, raw = false } = {}) {
  const headers = { Accept: raw ? "*/*" : "application/json" };
  if (method !== "GET") headers["X-CSRF-Token"] = cookie("drover_csrf") || "";
  if (json !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path.startsWith("/") && !path.startsWith(API) && !raw ? API + path : path, {
    method,
    headers,
    credentials: "same-origin",
    body: json === undefined ? undefined : JSON.stringify(json),
  });
  if (response.status === 401) {
    location.assign("/login?next=" + encodeURIComponent(location.pathname + location.search));
    throw new ApiError(401, "not signed in");
  }
  if (!response.ok) {
    let detail = response.statusText;
    try {
      detail = (await response.json()).detail || detail;
    } catch (_) { /* not JSON */ }
    throw new ApiError(response.status, typeof detail === "string" ? detail : JSON.stringify(detail));
  }
  if (response.status === 204) return null;
  return raw ? response.text() : response.json();
}

function seconds(value) {
  if (value === null || value === undefined) return "—";
  const s = Number(value);
  if (s < 60) return s.toFixed(s < 10 ? 1 : 0) + " s";
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s % 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

function when(iso) {
  return iso ? new Date(iso).toLocaleString() : "—";
}

function status(word) {
  const text = String(word || "unknown");
  return h("span", { class: "status status-" + text.toLowerCase() }, " " + text);
}

function progressBar(progress, label) {
  const total = progress.total || 0;
  const done = progress.completed || 0;
  return h(
    "span",
    { class: "row" },
    h("progress", { max: Math.max(total, 1), value: done, "aria-label": label }),
    h("span", { class: "muted" }, `${done}/${total}`),
  );
}

function counts(p) {
  return `${p.passed} passed · ${p.failed} failed · ${p.errored} error · ${p.skipped} skipped` +
    (p.running ? ` · ${p.running} running` : "") + (p.pending ? ` · ${p.pending} pending` : "");
}

function notice(message) {
  return h("p", { class: "notice", role: "alert" }, message);
}

function show(...nodes) {
  app.replaceChildren(...nodes.flat().filter((node) => node !== null && node !== undefined && node !== false));
  app.setAttribute("aria-busy", "false");
}

function setTitle(text) {
  document.getElementById("title").textContent = text;
  document.title = `${text} · Drover`;
}

async function confirmThen(question, action) {
  const dialog = h("dialog", { "aria-label": question },
    h("p", {}, question),
    h("form", { method: "dialog", class: "row" },
      h("button", { value: "cancel" }, "Cancel"),
      h("button", { value: "ok", class: "primary" }, "Confirm")));
  document.body.append(dialog);
  dialog.showModal();
  const answer = await new Promise((resolve) => dialog.addEventListener("close", () => resolve(dialog.returnValue)));
  dialog.remove();
  if (answer === "ok") return action();
  return null;
}

// A server-sent event stream, read with fetch rather than EventSource so that every reconnect
// sends the last event id it saw (Last-Event-ID): the run stream then resumes with a delta
// instead of a new snapshot. EventSource gives up for good on an error status, and a new one
// forgets the id. Reconnects with a growing pause until "end" or close().
const STREAMS = [];
window.drover = { streams: STREAMS }; // every stream opened, for the console and the tests (drop() loses the connection)

function parseEvent(block) {
  const event = { id: null, event: "message", data: [] };
  for (const line of block.split("\n")) {
    if (!line || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "id") event.id = value;
    else if (field === "event") event.event = value;
    else if (field === "data") event.data.push(value);
  }
  return event;
}

function listen(path, handlers) {
  const stream = { lastEventId: null, counts: {}, connections: 0, closed: false, controller: null };
  stream.close = () => {
    stream.closed = true;
    if (stream.controller) stream.controller.abort();
  };
  stream.drop = () => { if (stream.controller) stream.controller.abort(); };
  STREAMS.push(stream);
  window.addEventListener("pagehide", stream.close);

  function dispatch(block) {
    const event = parseEvent(block);
    if (!event.data.length && event.id === null) return; // a comment (keep-alive)
    if (event.id !== null) stream.lastEventId = event.id;
    stream.counts[event.event] = (stream.counts[event.event] || 0) + 1;
    const handler = handlers[event.event];
    if (handler) handler(event.data.length ? JSON.parse(event.data.join("\n")) : null);
    if (event.event === "end") stream.close();
  }

  async function connect() {
    let pause = 500;
    while (!stream.closed) {
      stream.controller = new AbortController();
      const headers = { Accept: "text/event-stream" };
      if (stream.lastEventId) headers["Last-Event-ID"] = stream.lastEventId;
      try {
        const response = await fetch(API + path, { headers, credentials: "same-origin", cache: "no-store", signal: stream.controller.signal });
        if (response.status === 401) {
          location.assign("/login?next=" + encodeURIComponent(location.pathname + location.search));
          return;
        }
        if (response.status === 404) { stream.close(); return; }
        if (response.ok) {
          stream.connections += 1;
          if (handlers.open) handlers.open(stream.connections > 1);
          pause = 500;
          const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
          let buffer = "";
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            buffer += value.replace(/\r\n?/g, "\n");
            let end;
            while ((end = buffer.indexOf("\n\n")) >= 0 && !stream.closed) {
              dispatch(buffer.slice(0, end));
              buffer = buffer.slice(end + 2);
            }
          }
        }
      } catch (_) { /* lost or dropped: reconnect below */ }
      if (stream.closed) return;
      await new Promise((resolve) => setTimeout(resolve, pause));
      pause = Math.min(pause * 2, 10000);
    }
  }
  connect();
  return stream;
}

// Calls fn at most once per `ms`, and once more after the last call.
function throttle(fn, ms) {
  let last = 0;
  let timer = null;
  return () => {
    const wait = last + ms - Date.now();
    if (wait <= 0) {
      last = Date.now();
      fn();
    } else if (!timer) {
      timer = setTimeout(() => { timer = null; last = Date.now(); fn(); }, wait);
    }
  };
}

// ---------------------------------------------------------------- sign in

async function loginPage() {
  const error = h("div");
  const input = h("input", { id: "token", type: "password", autocomplete: "current-password", required: true });
  const form = h("form", { class: "panel login" },
    h("p", {}, "Sign in with an API token (", h("code", {}, "drover token create"), " or the admin token)."),
    h("p", {}, h("label", { for: "token" }, "Token"), input),
    h("button", { class: "primary", type: "submit" }, "Sign in"),
    error);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const response = await fetch(API + "/session", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      credentials: "same-origin",
      body: JSON.stringify({ token: input.value }),
    });
    if (response.ok) location.assign(body.dataset.next || "/");
    else error.replaceChildren(notice((await response.json()).detail || "sign-in failed"));
  });
  show(form);
  input.focus();
  // `drover ui` opens /login#token=…: the fragment never reaches a server; sign in with it.
  const fragment = new URLSearchParams(location.hash.slice(1));
  if (fragment.get("token")) {
    input.value = fragment.get("token");
    history.replaceState(null, "", location.pathname + location.search);
    form.requestSubmit();
  }
}

async function whoami() {
  const who = document.getElementById("who");
  try {
    const me = await api("/session");
    const out = h("button", { type: "button", onclick: async () => { await api("/session", { method: "DELETE" }); location.assign("/login"); } }, "Sign out");
    who.replaceChildren(h("span", {}, me.name + " "), out);
  } catch (_) { /* redirected to /login */ }
}

// ---------------------------------------------------------------- runs list

const VERDICTS = ["running", "passed", "failed", "errored", "canceled"];

async function runsPage() {
  const params = new URLSearchParams(location.search);
  const executions = (await api("/executions?limit=500")).items;
  const verdictBoxes = VERDICTS.map((verdict) =>
    h("label", {}, h("input", { type: "checkbox", name: "verdict", value: verdict, checked: params.getAll("verdict").includes(verdict) }), verdict));
  const execution = h("select", { name: "execution_id", "aria-label": "Execution" },
    h("option", { value: "" }, "every execution"),
    executions.map((e) => h("option", { value: e.id, selected: params.get("execution_id") === String(e.id) }, e.name)));
  const after = h("input", { type: "date", name: "created_after", value: params.get("created_after") || "", "aria-label": "Created on or after" });
  const form = h("form", { class: "panel row", role: "search", "aria-label": "Filter runs" },
    h("fieldset", { class: "row" }, h("legend", {}, "Verdict"), verdictBoxes),
    execution, h("label", {}, "since", after),
    h("button", { type: "submit" }, "Filter"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const next = new URLSearchParams();
    for (const box of verdictBoxes) if (box.firstChild.checked) next.append("verdict", box.firstChild.value);
    if (execution.value) next.set("execution_id", execution.value);
    if (after.value) next.set("created_after", after.value);
    history.replaceState(null, "", "?" + next.toString());
    refresh();
  });
  const table = h("div", { class: "table-wrap" });
  show(form, table);

  let shownKey = null;
  async function refresh() {
    const query = new URLSearchParams(location.search);
    query.set("limit", "100");
    let page;
    try {
      page = await api("/runs?" + query.toString());
    } catch (error) {
      table.replaceChildren(notice(error.message));
      shownKey = null;
      return;
    }
    // Drawn again only when something shows differently, and the focus stays where it was
    // (a keyboard user tabbing through the list must not be thrown back to the top).
    const key = JSON.stringify([page.total, page.items.map((r) => [r.id, r.verdict, r.passed, r.failed, r.errored, r.skipped, r.total, r.duration])]);
    if (key === shownKey) return;
    shownKey = key;
    const focused = table.contains(document.activeElement) ? document.activeElement.getAttribute("href") : null;
    const rows = page.items.map((run) => {
      const trigger = run.resubmitted_from ? `resubmit of ${run.resubmitted_from}` :
        run.schedule_id ? `schedule ${run.schedule_id}` : run.attempt > 1 ? `retry (attempt ${run.attempt})` : "manual";
      const done = run.passed + run.failed + run.errored + run.skipped;
      return h("tr", {},
        h("td", {}, h("a", { href: `/runs/${run.id}` }, run.id)),
        h("td", {}, status(run.verdict)),
        h("td", {}, progressBar({ total: run.total, completed: done }, `progress of run ${run.id}`)),
        h("td", { class: "wide" }, run.execution_name),
        h("td", { class: "wide" }, trigger),
        h("td", { class: "num" }, seconds(run.duration)),
        h("td", { class: "wide" }, when(run.created_at)));
    });
    table.replaceChildren(
      h("p", { class: "muted" }, `${page.total} runs`),
      h("table", {},
        h("thead", {}, h("tr", {}, ["run", "verdict", "progress", "execution", "trigger", "duration", "created"].map((c, i) =>
          h("th", { scope: "col", class: i >= 3 && i !== 5 ? "wide" : i === 5 ? "num" : null }, c)))),
        h("tbody", {}, rows)));
    if (focused) {
      const again = [...table.querySelectorAll("a")].find((a) => a.getAttribute("href") === focused);
      if (again) again.focus();
    }
  }
  await refresh();
  setInterval(refresh, 3000); // the list is live: new runs and their progress
}

// ---------------------------------------------------------------- one run

async function runPage() {
  const runId = body.dataset.runId;
  const header = h("section", { "aria-label": "Run summary" });
  const graph = h("section", { "aria-label": "Flows and groups" });
  const timeline = h("section", { "aria-label": "Worker timeline" });
  const table = h("section", { "aria-label": "Scenarios" });
  const detail = h("section", { "aria-label": "Scenario detail", class: "detail" });
  // Read out when the run's phase or verdict changes, not at every re-render of the page.
  const announce = h("p", { role: "status", class: "visually-hidden" });
  const reports = h("section", { "aria-label": "Reports", class: "row" });
  show(announce, header, reports, graph, timeline, table, detail);
  let lastSaid = null;

  let run = null;
  let results = [];
  const scenarioTable = makeScenarioTable(table, detail, runId);

  // The run's reports: its JUnit XML always, the HTML reports once its exit handler made them.
  const REPORT_NAMES = { junit: "JUnit XML", playwright: "Playwright report", cucumber: "cucumber report" };
  async function loadReports() {
    try {
      const index = await api(`/runs/${runId}/reports`);
      reports.replaceChildren(h("strong", {}, "Reports"),
        ...Object.entries(index.links).map(([kind, href]) => h("a", { href }, REPORT_NAMES[kind] || kind)),
        ...(index.problems || []).map((problem) => h("span", { class: "muted" }, typeof problem === "string" ? problem : JSON.stringify(problem))));
    } catch (error) {
      reports.replaceChildren(h("span", { class: "muted" }, "Reports unavailable: " + error.message));
    }
  }

  let plan = null; // GET /runs/{id}/plan: what the plan predicted, drawn on the timeline
  // Results are read one load at a time: all of them, or only the groups the stream says
  // moved (a live run of many groups reads only its running group's results again).
  let byGroup = new Map();
  let wantAll = true;
  const wantGroups = new Set();
  let loading = null;
  async function readResults(filter) {
    // Page by page (keyset: the last page costs what the first does).
    const items = [];
    let cursor = null;
    do {
      const page = await api(`/runs/${runId}/results?limit=1000${filter}${cursor ? "&after=" + encodeURIComponent(cursor) : ""}`);
      for (const item of page.items) items.push(item);
      cursor = page.items.length ? page.next_cursor : null;
    } while (cursor);
    return items;
  }
  async function loadResults() {
    if (loading) return loading;
    loading = (async () => {
      if (wantAll || wantGroups.size) {
        const all = wantAll;
        const groups = [...wantGroups];
        wantAll = false;
        wantGroups.clear();
        if (all) {
          byGroup = new Map();
          for (const item of await readResults("")) {
            if (!byGroup.has(item.group_key)) byGroup.set(item.group_key, []);
            byGroup.get(item.group_key).push(item);
          }
        } else {
          for (const group of groups) byGroup.set(group, await readResults(`&group=${encodeURIComponent(group)}`));
        }
        results = [...byGroup.values()].flat();
        scenarioTable.update(results, run);
        drawTimeline(timeline, run, results, plan);
      }
    })();
    try {
      await loading;
    } finally {
      loading = null;
      if (wantAll || wantGroups.size) reloadResults(); // asked for meanwhile: again, throttled
    }
  }
  function wantResults(groups) {
    if (groups === null) wantAll = true;
    else for (const group of groups) wantGroups.add(group);
    reloadResults();
  }

  function render(detailData) {
    const said = `Run ${detailData.phase}, verdict ${detailData.verdict}${detailData.suspended ? ", suspended" : ""}`;
    if (run && said !== lastSaid) announce.textContent = said;
    lastSaid = said;
    run = detailData;
    setTitle(`Run ${run.id}`);
    renderHeader(header, run, runId);
    renderGraph(graph, run, runId);
  }

  // The stream's state, as the server keys it (api/routes/runs.py, _entities): "run",
  // "group:<key>", "worker:<id>"; a snapshot replaces it, a delta changes the fields it names.
  let entities = {};
  const reloadResults = throttle(loadResults, 1500);

  function applySnapshot(detailData) {
    entities = { run: { ...detailData } };
    delete entities.run.groups;
    for (const group of detailData.groups) {
      entities[`group:${group.key}`] = { ...group };
      delete entities[`group:${group.key}`].workers;
      for (const worker of group.workers) entities[`worker:${worker.id}`] = worker;
    }
    render(detailData);
    wantResults(null);
  }

  function applyDelta(delta) {
    applyTo(entities, delta);
    render(detailOf(entities));
    // Results are not in the stream: read those of the groups whose counts moved again.
    const moved = new Set();
    for (const [key, fields] of Object.entries(delta)) {
      if (key.startsWith("group:") && ("progress" in fields || "phase" in fields)) moved.add(key.slice("group:".length));
      else if (key.startsWith("worker:") && entities[key] && ("completed" in fields || "phase" in fields)) moved.add(entities[key].group_key);
    }
    // Most groups moved (they run in parallel): one read of all costs fewer requests.
    if (moved.size && moved.size * 2 <= Object.keys(entities).filter((k) => k.startsWith("group:")).length) wantResults(moved);
    else if (moved.size) wantResults(null);
    else if (delta.run && ("progress" in delta.run || "phase" in delta.run)) wantResults(null);
  }

  function follow() {
    if (FINAL.has(run.phase) || (stream && !stream.closed)) return;
    stream = listen(`/runs/${runId}/events`, { snapshot: applySnapshot, delta: applyDelta, end: () => { wantAll = true; loadResults(); loadReports(); } });
  }

  try {
    render(await api(`/runs/${runId}`));
  } catch (error) {
    show(notice(error.message));
    return;
  }
  // The plan is read beside the results, and drawn on the timeline when it comes.
  api(`/runs/${runId}/plan`).then((found) => {
    plan = found;
    if (results.length) drawTimeline(timeline, run, results, plan);
  }).catch(() => null);
  await loadResults();
  loadReports();
  // The stream ends with the run; a retry or resume makes it live again, so follow anew.
  let stream = null;
  follow();
  document.addEventListener("drover:changed", async () => {
    if (stream && !stream.closed) return; // the stream brings the change
    render(await api(`/runs/${runId}`));
    wantResults(null);
    follow();
  });
}

// A delta applied to a stream's entities: each names the fields that changed (a field that is
// gone is null); an entity that is gone is {"removed": true} (api/sse.py, changes).
function applyTo(entities, delta) {
  for (const [key, fields] of Object.entries(delta)) {
    if (fields.removed === true && Object.keys(fields).length === 1) delete entities[key];
    else entities[key] = { ...(entities[key] || {}), ...fields };
  }
}

// Seconds from started_at to finished_at (to now while unfinished), as the API computes them.
function elapsed(item) {
  return item.started_at
    ? Math.max(0, ((item.finished_at ? Date.parse(item.finished_at) : Date.now()) - Date.parse(item.started_at)) / 1000)
    : null;
}

// The run's detail (GET /runs/{id}) from a stream's entities; durations are not streamed
// (they grow while running), so they are computed here as the server does.
function detailOf(entities) {
  const duration = elapsed;
  const workers = new Map();
  for (const [key, worker] of Object.entries(entities)) {
    if (!key.startsWith("worker:")) continue;
    if (!workers.has(worker.group_key)) workers.set(worker.group_key, []);
    workers.get(worker.group_key).push({ ...worker, duration: duration(worker) });
  }
  const groups = Object.entries(entities).filter(([key]) => key.startsWith("group:")).map(([, group]) => ({
    ...group,
    duration: duration(group),
    workers: (workers.get(group.key) || []).sort((a, b) => a.shard - b.shard),
  }));
  return { ...entities.run, duration: duration(entities.run), groups };
}

function renderHeader(section, run, runId) {
  const verdict = run.verdict; // the server's (api/runs/verdicts.py), never worked out here
  const actions = h("div", { class: "row", role: "group", "aria-label": "Run actions" });
  const act = (label, path, question, cls) =>
    h("button", { type: "button", class: cls, onclick: () => confirmThen(question, async () => {
      try {
        const answer = await api(`/runs/${runId}/${path}`, { method: "POST" });
        if (answer && answer.id && answer.id !== runId) location.assign(`/runs/${answer.id}`);
        else document.dispatchEvent(new Event("drover:changed"));
      } catch (error) {
        section.append(notice(error.message));
      }
    }) }, label);
  const running = !FINAL.has(run.phase);
  if (running) {
    actions.append(act("Stop", "cancel?mode=stop", "Stop this run? Its exit handler (cleanup) still runs.", "danger"));
    actions.append(act("Terminate", "cancel?mode=terminate", "Terminate this run now? Cleanup is skipped.", "danger"));
    actions.append(run.suspended || run.phase === "Suspended"
      ? act("Resume", "resume", "Resume this run?")
      : act("Suspend", "suspend", "Suspend this run? No new workers start until it resumes."));
  } else {
    if (verdict !== "passed") actions.append(act("Retry", "retry", "Retry the failed workers of this run, keeping what passed?"));
    actions.append(act("Resubmit", "resubmit", "Start a new run from the same spec?"));
  }
  const links = [];
  if (run.ui_url) links.push(h("a", { href: run.ui_url, rel: "noopener" }, "Argo UI"));
  links.push(h("a", { href: `/runs/${runId}/logs` }, "All logs"));
  section.replaceChildren(h("div", { class: "panel" },
    h("div", { class: "row" },
      h("strong", {}, "Verdict "), status(verdict),
      h("span", {}, "Phase: ", run.phase),
      run.suspended ? status("suspended") : null,
      h("span", {}, "Execution: ", run.execution_id ? h("a", { href: `/executions/${run.execution_id}` }, run.execution_name) : run.execution_name),
      h("span", {}, "Attempt ", String(run.attempt)),
      h("span", {}, "Duration ", seconds(run.duration)),
      run.resubmitted_from ? h("span", {}, "Resubmit of ", h("a", { href: `/runs/${run.resubmitted_from}` }, run.resubmitted_from)) : null),
    h("div", { class: "row" }, progressBar(run.progress, "run progress"), h("span", {}, counts(run.progress))),
    run.setup_error ? notice("setup-env failed: " + run.setup_error) : null,
    run.message ? h("p", { class: "muted" }, run.message) : null,
    h("div", { class: "row" }, links, actions)));
}

function renderGraph(section, run, runId) {
  const flows = new Map();
  for (const group of run.groups) {
    const flow = group.flow || "";
    if (!flows.has(flow)) flows.set(flow, []);
    flows.get(flow).push(group);
  }
  const lanes = [...flows.entries()].map(([flow, groups]) => h("div", { class: "lane" },
    h("h3", {}, flow ? `Flow ${flow}` : "Groups", run.flows && run.flows[flow] ? h("span", { class: "muted" }, ` — ${counts(run.flows[flow])}`) : null),
    h("ol", { class: "groups", "aria-label": `groups of ${flow || "the run"} in order` },
      groups.map((group, i) => h("li", { class: "group" },
        i > 0 ? h("span", { class: "arrow", "aria-hidden": "true" }, "→ ") : null,
        h("strong", {}, group.title || group.name), " ", status(group.phase),
        h("div", {}, progressBar(group.progress, `progress of group ${group.key}`)),
        h("div", { class: "muted" }, counts(group.progress)),
        h("div", { class: "workers", "aria-label": `workers of ${group.key}` },
          group.workers.map((w) => h("a", { class: "worker", href: `/runs/${runId}/logs?worker=${encodeURIComponent(w.pod_name || `${group.key}/${w.shard}`)}`, title: w.message || w.phase },
            `#${w.shard} `, status(w.phase))))))),
  ));
  section.replaceChildren(h("h2", {}, "Flows"), h("div", { class: "lanes" }, lanes));
}

// Worker timeline: one row per worker, each scenario a bar from its start for its duration;
// drawn on a canvas so ten thousand bars cost one paint.
function drawTimeline(section, run, results, plan) {
  const timed = results.filter((r) => r.duration !== null && r.duration !== undefined);
  const rows = new Map();
  let t0 = Infinity;
  let t1 = -Infinity;
  for (const r of timed) {
    const end = Date.parse(r.finished_at || r.created_at);
    const start = r.started_at ? Date.parse(r.started_at) : end - r.duration * 1000;
    const key = `${r.group_key ?? "?"} #${r.shard ?? "?"}`;
    if (!rows.has(key)) rows.set(key, []);
    rows.get(key).push({ start, end, status: r.status });
    t0 = Math.min(t0, start);
    t1 = Math.max(t1, end);
  }
  const heading = h("h2", {}, "Worker timeline");
  if (!rows.size) {
    section.replaceChildren(heading, h("p", { class: "muted" }, "No timed results yet."));
    return;
  }
  // The axis takes in the plan's marks unless they lie far past what happened (estimates
  // without history): then they are named at its right edge instead.
  const far = plan ? t0 + Math.max(plan.predicted_makespan, plan.lower_bound) * 1000 : t1;
  if (far - t0 <= 2 * (t1 - t0)) t1 = Math.max(t1, far);
  const keys = [...rows.keys()].sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
  const rowHeight = 18;
  const labelWidth = 150;
  const canvas = h("canvas", { class: "timeline", role: "img" });
  const width = Math.max(section.clientWidth || 900, 320);
  const ratio = window.devicePixelRatio || 1;
  const height = keys.length * rowHeight + 24;
  canvas.width = width * ratio;
  canvas.height = height * ratio;
  canvas.style.height = height + "px";
  const ctx = canvas.getContext("2d");
  ctx.scale(ratio, ratio);
  ctx.font = "12px system-ui, sans-serif";
  const span = Math.max(t1 - t0, 1);
  const x = (t) => labelWidth + ((t - t0) / span) * (width - labelWidth - 8);
  // The status colours of the page (dashboard.css), and a shape for each status as well, so
  // colour is never the only cue: passed bars are half height, failed and error ones full
  // height, skipped ones an outline.
  const css = getComputedStyle(document.documentElement);
  const colour = (status) => css.getPropertyValue("--" + status).trim() || css.getPropertyValue("--running").trim();
  const full = rowHeight - 6;
  const half = Math.ceil(full / 2);
  keys.forEach((key, i) => {
    const y = i * rowHeight;
    ctx.fillStyle = css.getPropertyValue("--fg").trim();
    ctx.fillText(key, 4, y + 13);
    for (const bar of rows.get(key)) {
      const left = x(bar.start);
      const wide = Math.max(x(bar.end) - left, 1);
      ctx.fillStyle = ctx.strokeStyle = colour(bar.status);
      if (bar.status === "passed") ctx.fillRect(left, y + 3 + full - half, wide, half);
      else if (bar.status === "skipped") ctx.strokeRect(left + 0.5, y + 3.5, Math.max(wide - 1, 1), full - 1);
      else ctx.fillRect(left, y + 3, wide, full);
    }
  });
  // What the plan predicted, from the first scenario's start: its makespan (solid) and the
  // lower bound no plan could beat (dashed); without the plan, an even split of the measured
  // work stands for the lower bound.
  const loads = keys.map((k) => rows.get(k).reduce((sum, b) => sum + (b.end - b.start), 0));
  const even = loads.reduce((a, b) => a + b, 0) / keys.length;
  const lower = plan ? plan.lower_bound * 1000 : even;
  const marks = [[lower, [4, 3], "lower bound"]];
  if (plan) marks.push([plan.predicted_makespan * 1000, [], "predicted"]);
  ctx.strokeStyle = css.getPropertyValue("--focus").trim();
  ctx.fillStyle = css.getPropertyValue("--fg").trim();
  marks.forEach(([at, dash, label], i) => {
    const y = i === 0 ? 11 : height - 20;
    if (t0 + at > t1) {
      ctx.textAlign = "right";
      ctx.fillText(`${label} ${seconds(at / 1000)} →`, width - 4, y);
      ctx.textAlign = "left";
      return;
    }
    ctx.setLineDash(dash);
    ctx.beginPath();
    ctx.moveTo(x(t0 + at), 0);
    ctx.lineTo(x(t0 + at), height - 20);
    ctx.stroke();
    ctx.fillText(label, Math.min(x(t0 + at) + 3, width - 80), y);
  });
  ctx.setLineDash([]);
  ctx.fillText(`0 s`, labelWidth, height - 6);
  ctx.fillText(seconds(span / 1000), width - 60, height - 6);
  const busiest = Math.max(...loads);
  const predicted = plan ? `; the plan predicted ${seconds(plan.predicted_makespan)}, lower bound ${seconds(plan.lower_bound)}` : `, an even split ${seconds(even / 1000)}`;
  canvas.setAttribute("aria-label", `${keys.length} workers over ${seconds(span / 1000)}; busiest worker ${seconds(busiest / 1000)} of work${predicted}`);
  section.replaceChildren(heading,
    h("p", { class: "legend" }, "Bars: scenarios by start and duration (passed: short, green; failed: tall, red; error: tall, purple; skipped: an outline). ",
      plan ? `Solid line: the plan's predicted makespan (${seconds(plan.predicted_makespan)}); dashed line: its lower bound (${seconds(plan.lower_bound)}), from the first scenario's start.`
        : "Dashed line: an even split of the measured work (the shards' lower bound)."),
    h("div", { class: "timeline-wrap" }, canvas));
}

// Plain code-point order: localeCompare costs ten times as much, felt at 10,000 rows.
const byId = (a, b) => (a < b ? -1 : a > b ? 1 : 0);

// The scenario table: the latest attempt of each scenario, filtered and sorted in the browser,
// and only the visible rows in the DOM.
function makeScenarioTable(section, detail, runId) {
  const search = h("input", { type: "search", placeholder: "search scenarios", "aria-label": "Search scenarios" });
  const statusFilter = h("select", { "aria-label": "Status" }, ["", "passed", "failed", "error", "skipped"].map((s) => h("option", { value: s }, s || "every status")));
  const groupFilter = h("select", { "aria-label": "Group" }, h("option", { value: "" }, "every group"));
  const tagFilter = h("input", { type: "search", placeholder: "tag", "aria-label": "Tag", size: 10 });
  const sort = h("select", { "aria-label": "Sort" },
    h("option", { value: "status" }, "problems first"),
    h("option", { value: "-duration" }, "longest first"),
    h("option", { value: "id" }, "by id"));
  const countLine = h("p", { class: "muted" });
  const viewport = h("div", { class: "virtual", tabindex: "0", "aria-label": "Scenario rows" });
  const tbody = h("tbody");
  const table = h("table", {}, h("thead", {}, h("tr", {},
    h("th", { scope: "col" }, "scenario"), h("th", { scope: "col" }, "status"), h("th", { scope: "col", class: "wide" }, "group"),
    h("th", { scope: "col", class: "num" }, "duration"), h("th", { scope: "col", class: "num wide" }, "attempt"))), tbody);
  const spacer = h("div");
  viewport.append(spacer, table);
  section.replaceChildren(h("h2", {}, "Scenarios"),
    h("div", { class: "row panel", role: "search" }, search, statusFilter, groupFilter, tagFilter, sort), countLine, viewport);

  let rows = [];
  let byScenario = new Map();
  const ROW = 34;
  const order = { failed: 0, error: 1, skipped: 3, passed: 4 };

  function apply() {
    const text = search.value.toLowerCase();
    const tag = tagFilter.value.toLowerCase();
    rows = [...byScenario.values()].filter((r) =>
      (!text || r.scenario_id.toLowerCase().includes(text) || (r.name || "").toLowerCase().includes(text)) &&
      (!statusFilter.value || r.status === statusFilter.value) &&
      (!groupFilter.value || r.group_key === groupFilter.value) &&
      (!tag || (r.tags || []).some((t) => t.toLowerCase().includes(tag))));
    if (sort.value === "-duration") rows.sort((a, b) => (b.duration || 0) - (a.duration || 0));
    else if (sort.value === "id") rows.sort((a, b) => byId(a.scenario_id, b.scenario_id));
    else rows.sort((a, b) => (order[a.status] ?? 2) - (order[b.status] ?? 2) || byId(a.scenario_id, b.scenario_id));
    countLine.textContent = `${rows.length} of ${byScenario.size} scenarios`;
    spacer.style.height = rows.length * ROW + 40 + "px";
    paint();
  }

  function paint() {
    const first = Math.max(0, Math.floor(viewport.scrollTop / ROW) - 5);
    const visible = rows.slice(first, first + Math.ceil(420 / ROW) + 10);
    table.style.transform = `translateY(${first * ROW}px)`;
    tbody.replaceChildren(...visible.map((r) => {
      const tr = h("tr", { class: "clickable", tabindex: "0" },
        h("td", { title: r.scenario_id }, r.name || r.scenario_id), h("td", {}, status(r.status)),
        h("td", { class: "wide" }, r.group_key || ""), h("td", { class: "num" }, seconds(r.duration)),
        h("td", { class: "num wide" }, String(r.attempt)));
      const open = () => openScenario(detail, r, byScenario.attempts.get(r.scenario_id) || [r], runId);
      tr.addEventListener("click", open);
      tr.addEventListener("keydown", (e) => { if (e.key === "Enter") open(); });
      return tr;
    }));
  }

  viewport.addEventListener("scroll", () => requestAnimationFrame(paint));
  for (const control of [search, tagFilter]) control.addEventListener("input", apply);
  for (const control of [statusFilter, groupFilter, sort]) control.addEventListener("change", apply);

  return {
    update(results, run) {
      byScenario = new Map();
      byScenario.attempts = new Map();
      for (const r of results) {
        const seen = byScenario.get(r.scenario_id);
        if (!seen || r.attempt >= seen.attempt) byScenario.set(r.scenario_id, r);
        if (!byScenario.attempts.has(r.scenario_id)) byScenario.attempts.set(r.scenario_id, []);
        byScenario.attempts.get(r.scenario_id).push(r);
      }
      const groups = run ? run.groups.map((g) => g.key) : [];
      if (groupFilter.options.length !== groups.length + 1) {
        const chosen = groupFilter.value;
        groupFilter.replaceChildren(h("option", { value: "" }, "every group"), ...groups.map((g) => h("option", { value: g, selected: g === chosen }, g)));
      }
      apply();
    },
  };
}

function artifactLinks(result) {
  const items = result.artifacts || [];
  return items.map((item) => {
    const name = typeof item === "string" ? item.split("/").pop() : item.name || item.path || "artifact";
    const url = (item && item.url) || (result.id !== undefined ? `${API}/results/${result.id}/artifacts/${encodeURIComponent(name)}` : null);
    if (!url) return h("li", {}, name);
    if (/\.(png|jpe?g|gif|webp)$/i.test(name)) return h("li", { class: "shots" }, h("a", { href: url }, name), h("br"), h("img", { src: url, alt: `screenshot ${name}`, loading: "lazy" }));
    return h("li", {}, h("a", { href: url }, name));
  });
}

function openScenario(section, result, attempts, runId) {
  const sorted = [...attempts].sort((a, b) => a.attempt - b.attempt);
  const excerpt = h("div", {}, h("p", { class: "muted" }, "reading its worker's log…"));
  section.replaceChildren(...[h("h2", { tabindex: "-1", id: "scenario-detail" }, result.name || result.scenario_id),
    h("div", { class: "row" }, status(result.status), h("span", {}, "group ", result.group_key || "—"),
      result.location ? h("span", {}, result.location) : null,
      (result.tags || []).length ? h("span", {}, "tags: ", result.tags.join(", ")) : null,
      h("a", { href: `/runs/${runId}/logs?worker=${encodeURIComponent(result.worker || "")}` }, "worker log")),
    sorted.map((attempt) => h("div", { class: "panel" },
      h("div", { class: "row" }, h("strong", {}, `Attempt ${attempt.attempt}`), status(attempt.status), seconds(attempt.duration)),
      attempt.error ? h("pre", {}, attempt.error) : null,
      (attempt.artifacts || []).length ? h("ul", {}, artifactLinks(attempt)) : null)),
    h("h3", {}, "Log excerpt"), excerpt].flat());
  document.getElementById("scenario-detail").focus();
  logExcerpt(runId, result).then((lines) => excerpt.replaceChildren(lines.length
    ? h("pre", { class: "log", tabindex: "0", "aria-label": "log lines of this scenario" }, lines.map(ansiLine))
    : h("p", { class: "muted" }, "No line of its worker's log names this scenario.")));
}

// The lines of a scenario's worker log from the first that names the scenario to a few after
// the last (at most 60): what it printed, and its runner's verdict on it.
async function logExcerpt(runId, result) {
  if (!result.worker) return [];
  const response = await fetch(`${API}/runs/${runId}/logs?worker=${encodeURIComponent(result.worker)}`,
    { credentials: "same-origin", headers: { Accept: "text/event-stream" } });
  if (!response.ok) return [];
  const lines = [];
  for (const block of (await response.text()).replace(/\r\n?/g, "\n").split("\n\n")) {
    const event = parseEvent(block);
    if (event.event === "log" && event.data.length) lines.push(JSON.parse(event.data.join("\n")).line);
  }
  const name = result.scenario_id.split(/::|:/).pop();
  const hits = lines.flatMap((line, i) => (line.includes(name) ? [i] : []));
  if (!hits.length) return [];
  const first = Math.max(0, hits[0] - 2);
  return lines.slice(first, Math.min(lines.length, hits[hits.length - 1] + 6, first + 60));
}

// ---------------------------------------------------------------- logs (live tail, ANSI colours)

function ansiLine(text) {
  // Splits on SGR escapes; keeps bold and the 8 foreground colours, drops the rest.
  const line = h("div");
  let classes = [];
  for (const part of text.split(/(\x1b\[[0-9;]*m)/)) {
    const sgr = /^\x1b\[([0-9;]*)m$/.exec(part);
    if (sgr) {
      for (const code of (sgr[1] || "0").split(";").map(Number)) {
        if (code === 0) classes = [];
        else if (code === 1 || (code >= 30 && code <= 37)) classes = classes.filter((c) => code === 1 ? c !== "ansi-1" : !/ansi-3/.test(c)).concat("ansi-" + code);
        else if (code === 39) classes = classes.filter((c) => !/ansi-3/.test(c));
      }
    } else if (part) {
      line.append(classes.length ? h("span", { class: classes.join(" ") }, part) : document.createTextNode(part));
    }
  }
  return line;
}

async function logPage() {
  const runId = body.dataset.runId;
  const pipelineRun = body.dataset.pipelineRunId;
  const worker = body.dataset.worker;
  const job = body.dataset.job;
  const path = pipelineRun
    ? `/pipeline-runs/${pipelineRun}/logs?follow=true${job ? "&job=" + encodeURIComponent(job) : ""}`
    : `/runs/${runId}/logs?follow=true${worker ? "&worker=" + encodeURIComponent(worker) : ""}`;
  setTitle(`Log — ${pipelineRun ? "pipeline run " + pipelineRun : "run " + runId}${worker ? " · " + worker : job ? " · " + job : ""}`);
  const search = h("input", { type: "search", placeholder: "filter lines", "aria-label": "Filter log lines" });
  const follow = h("input", { type: "checkbox", checked: true });
  const state = h("span", { class: "muted", role: "status" }, "following…");
  const pre = h("pre", { class: "log", tabindex: "0", "aria-label": "log lines" });
  const back = pipelineRun ? h("a", { href: `/pipeline-runs/${pipelineRun}` }, "back to the pipeline run") : h("a", { href: `/runs/${runId}` }, "back to the run");
  show(h("div", { class: "row panel" }, back, search, h("label", {}, follow, "scroll with new lines"), state), pre);
  const lines = [];
  const matches = (text) => !search.value || text.toLowerCase().includes(search.value.toLowerCase());
  search.addEventListener("input", () => pre.replaceChildren(...lines.filter(matches).map(ansiLine)));
  listen(path, {
    // Log lines carry no ids: a reconnected stream starts from the first line again.
    open: (again) => { if (again) { lines.length = 0; pre.replaceChildren(); } },
    log: (data) => {
      lines.push(data.line);
      if (matches(data.line)) pre.append(ansiLine(data.line));
      if (follow.checked) pre.scrollTop = pre.scrollHeight;
    },
    error: (data) => { if (data) state.textContent = "error: " + data.detail; },
    end: () => { state.textContent = `ended — ${lines.length} lines`; },
  });
}

// ---------------------------------------------------------------- executions

async function executionsPage() {
  const page = await api("/executions?limit=500");
  show(page.items.length
    ? h("div", { class: "table-wrap" }, h("table", {},
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "execution"), h("th", { scope: "col", class: "num" }, "version"), h("th", { scope: "col", class: "wide" }, "updated"))),
      h("tbody", {}, page.items.map((e) => h("tr", {},
        h("td", {}, h("a", { href: `/executions/${e.id}` }, e.name)), h("td", { class: "num" }, String(e.version)), h("td", { class: "wide" }, when(e.updated_at)))))))
    : h("p", { class: "muted" }, "No executions yet: create one with POST /api/v1/executions."));
}

// A scenario's durations as a small line (oldest to newest), named for screen readers.
function sparkline(values) {
  const known = values.filter((v) => v !== null && v !== undefined);
  if (known.length < 2) return h("span", { class: "muted" }, known.length ? "" : "—");
  const NS = "http://www.w3.org/2000/svg";
  const [w, hgt] = [80, 18];
  const top = Math.max(...known) || 1;
  const points = known.map((v, i) => `${(i / (known.length - 1)) * (w - 2) + 1},${hgt - 1 - (v / top) * (hgt - 2)}`).join(" ");
  const svg = document.createElementNS(NS, "svg");
  for (const [k, v] of Object.entries({ width: w, height: hgt, viewBox: `0 0 ${w} ${hgt}`, class: "spark", role: "img",
    "aria-label": "durations, oldest to newest: " + known.map((v) => seconds(v)).join(", ") })) svg.setAttribute(k, v);
  const line = document.createElementNS(NS, "polyline");
  line.setAttribute("points", points);
  svg.append(line);
  return svg;
}

function lineDiff(before, after) {
  // Longest common subsequence over lines; fine for specs of a few thousand lines.
  const a = before.split("\n");
  const b = after.split("\n");
  const n = a.length;
  const m = b.length;
  if (n * m > 4e6) return [{ kind: "", text: "(too large to diff here; download both versions)" }];
  const dp = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) dp[i][j] = a[i] === b[j] ? dp[i + 1][j + 1] + 1 : Math.max(dp[i + 1][j], dp[i][j + 1]);
  const out = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) { out.push({ kind: "", text: "  " + a[i] }); i++; j++; }
    else if (j < m && (i === n || dp[i][j + 1] >= dp[i + 1][j])) { out.push({ kind: "add", text: "+ " + b[j] }); j++; }
    else { out.push({ kind: "del", text: "- " + a[i] }); i++; }
  }
  return out;
}

async function executionPage() {
  const id = body.dataset.executionId;
  const execution = await api(`/executions/${id}`);
  setTitle(`Execution ${execution.name}`);
  const specUrl = `/executions/${id}/spec.yaml`;
  const spec = await api(specUrl, { raw: true });
  const runNow = h("button", { class: "primary", type: "button", onclick: () => confirmThen(`Run ${execution.name} now?`, async () => {
    const run = await api(`/executions/${id}/run`, { method: "POST", json: {} });
    location.assign(`/runs/${run.id}`);
  }) }, "Run now");
  const versions = await api(`/executions/${id}/versions`);
  const diffOut = h("pre", { class: "spec diff", "aria-label": "difference between versions" });
  const from = h("select", { "aria-label": "compare from version" }, versions.map((v) => h("option", { value: v.version }, `v${v.version}`)));
  const diffButton = h("button", { type: "button", onclick: async () => {
    const older = await api(`${specUrl}?version=${from.value}`, { raw: true });
    diffOut.replaceChildren(...lineDiff(older, spec).map((l) => h("div", { class: l.kind }, l.text)));
  } }, "Diff with current");
  const schedules = (await api(`/schedules?execution_id=${id}`).catch(() => ({ items: [] }))).items || [];
  const runs = (await api(`/runs?execution_id=${id}&limit=10`)).items;
  const history = h("section", { "aria-label": "Scenario history" }, h("h2", {}, "Scenario history"));
  show(
    h("div", { class: "row" }, runNow, h("a", { href: specUrl, download: `${execution.name}.yaml` }, "Download spec"), h("a", { href: `/?execution_id=${id}` }, "All runs")),
    h("h2", {}, "Recent runs"),
    runs.length ? h("ul", {}, runs.map((r) => h("li", {}, h("a", { href: `/runs/${r.id}` }, r.id), " ", status(r.verdict), " ", when(r.created_at)))) : h("p", { class: "muted" }, "No runs yet."),
    h("h2", {}, "Schedules"),
    schedules.length ? h("ul", {}, schedules.map((s) => h("li", {}, `${s.cron} (${s.timezone}) — ${s.enabled ? "enabled" : "disabled"}, ${s.concurrency_policy}; next ${when(s.next_run_at)}`))) : h("p", { class: "muted" }, "No schedules."),
    history,
    h("h2", {}, `Spec (version ${execution.version})`),
    h("pre", { class: "spec", tabindex: "0", "aria-label": "execution spec, YAML" }, spec),
    versions.length > 1 ? h("div", {}, h("h2", {}, "Versions"), h("div", { class: "row" }, from, diffButton), diffOut) : null);
  try {
    const scenarios = await api(`/executions/${id}/scenarios?limit=200`);
    // Flaky ones first; each with its outcomes in the last runs (newest first) and the trend
    // of its durations (oldest to newest).
    const items = scenarios.items.slice().sort((a, b) => (b.flaky ? 1 : 0) - (a.flaky ? 1 : 0));
    history.append(items.length ? h("div", { class: "table-wrap" }, h("table", {},
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "scenario"), h("th", { scope: "col" }, "flaky"),
        h("th", { scope: "col" }, "last outcomes (newest first)"), h("th", { scope: "col", class: "num wide" }, "pass rate"),
        h("th", { scope: "col", class: "num wide" }, "duration trend"))),
      h("tbody", {}, items.map((item) => h("tr", {},
        h("td", { class: "id" }, item.name || item.scenario_id),
        h("td", {}, item.flaky ? h("span", {}, status("flaky"), item.flaky_reason ? h("span", { class: "muted" }, " " + item.flaky_reason) : null) : "no"),
        h("td", { class: "outcomes" }, item.runs.slice(0, 10).map((r) => h("a", { href: `/runs/${r.run_id}`, title: `${r.statuses.join(" → ")}, ${when(r.created_at)}` }, status(r.status)))),
        h("td", { class: "num wide" }, item.pass_rate === null ? "—" : `${Math.round(item.pass_rate * 100)} %`),
        h("td", { class: "num wide" }, sparkline(item.runs.map((r) => r.duration).reverse()), " mean ", seconds(item.mean_duration))))))) : h("p", { class: "muted" }, "No history yet."));
  } catch (error) {
    history.append(h("p", { class: "muted" }, "History unavailable: " + error.message));
  }
}

// ---------------------------------------------------------------- pipelines

async function pipelinesPage() {
  const pipelines = (await api("/pipelines?limit=500")).items;
  const sections = [];
  for (const pipeline of pipelines) {
    const runs = (await api(`/pipelines/${pipeline.id}/runs?limit=20`)).items;
    sections.push(h("section", { class: "panel" }, h("h2", {}, pipeline.name),
      runs.length ? h("ul", {}, runs.map((r) => h("li", {}, h("a", { href: `/pipeline-runs/${r.id}` }, r.id), " ", status(r.phase), " ", when(r.created_at)))) : h("p", { class: "muted" }, "No runs yet.")));
  }
  show(sections.length ? sections : h("p", { class: "muted" }, "No pipelines yet."));
}

async function pipelineRunPage() {
  const runId = body.dataset.runId;
  const container = h("div");
  show(container);
  // Live over the run's stream (api/routes/pipelines.py, _entities): "run" and "job:<name>".
  let entities = {};
  const graph = new Map();
  function applySnapshot(detail) {
    entities = { run: { ...detail } };
    delete entities.run.jobs;
    for (const job of detail.jobs) entities[`job:${job.job}`] = job;
    render();
  }
  function applyDelta(delta) {
    applyTo(entities, delta);
    render();
  }
  function render() {
    const jobs = Object.entries(entities).filter(([key]) => key.startsWith("job:")).map(([, job]) => ({ ...job, duration: elapsed(job) }));
    const run = { ...entities.run, duration: elapsed(entities.run), jobs };
    setTitle(`Pipeline run ${run.pipeline_name} · ${run.id}`);
    const stages = new Map();
    for (const job of run.jobs) {
      const stage = job.stage || "jobs";
      if (!stages.has(stage)) stages.set(stage, []);
      stages.get(stage).push(job);
    }
    const skipped = (job) => job.phase === "Skipped" || job.phase === "Omitted";
    const jobCard = (job) => h("div", { class: "job" },
      h("div", { class: "row" }, h("strong", {}, job.job), status(skipped(job) ? "skipped" : job.phase)),
      h("div", { class: "muted" }, skipped(job)
        ? "branch not taken" + (job.message ? ": " + job.message : "")
        : `${job.kind}${job.exit_code !== null ? ", exit " + job.exit_code : ""}`),
      graph.has(job.job) && graph.get(job.job).needs.length ? h("div", {}, "needs ", graph.get(job.job).needs.join(", ")) : null,
      graph.has(job.job) && graph.get(job.job).when ? h("div", {}, "when ", h("code", {}, graph.get(job.job).when)) : null,
      Object.keys(job.outputs || {}).length ? h("pre", {}, JSON.stringify(job.outputs, null, 2)) : null,
      h("a", { href: `/pipeline-runs/${runId}/logs?job=${encodeURIComponent(job.job)}` }, "log"));
    const stageBoxes = [...stages.entries()].map(([stage, jobs]) =>
      h("section", { class: "stage", "aria-label": `stage ${stage}` }, h("h3", {}, stage), jobs.map(jobCard)));
    container.replaceChildren(
      h("section", { class: "panel row", "aria-label": "Pipeline run summary" }, h("strong", {}, "Phase "), status(run.phase),
        h("span", {}, "Duration ", seconds(run.duration)),
        run.message ? h("span", { class: "muted" }, run.message) : null,
        h("a", { href: `/pipeline-runs/${runId}/logs` }, "All logs")),
      h("h2", {}, "Jobs"),
      h("div", { class: "stages" }, stageBoxes));
  }
  const detail = await api(`/pipeline-runs/${runId}`);
  applySnapshot(detail);
  if (!FINAL.has(detail.phase)) listen(`/pipeline-runs/${runId}/events`, { snapshot: applySnapshot, delta: applyDelta });
  // The job graph of the version the run ran: each job's needs and condition.
  if (detail.pipeline_id !== null && detail.pipeline_version !== null) {
    try {
      const versions = await api(`/pipelines/${detail.pipeline_id}/versions`);
      const spec = (versions.find((v) => v.version === detail.pipeline_version) || {}).spec || {};
      const jobs = [...(spec.jobs || []), ...(spec.stages || []).flatMap((stage) => stage.jobs), ...(spec.on_exit ? [spec.on_exit] : [])];
      for (const job of jobs) graph.set(job.name, { needs: job.needs || [], when: job.when || null });
      render();
    } catch (_) { /* the graph is extra: the jobs still show */ }
  }
}

// ---------------------------------------------------------------- start

const PAGES = {
  login: loginPage,
  runs: runsPage,
  run: runPage,
  logs: logPage,
  executions: executionsPage,
  execution: executionPage,
  pipelines: pipelinesPage,
  "pipeline-run": pipelineRunPage,
};

async function start() {
  const page = PAGES[body.dataset.page];
  if (body.dataset.page !== "login") await whoami();
  try {
    await page();
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 401)) show(notice(error.message));
  }
}

start();
