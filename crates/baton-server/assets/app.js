// Baton's web UI: a single page over the agent's JSON API (/api/v1), served by the binary with
// no external resources. Every request carries the bearer token the user entered (kept in
// this tab's sessionStorage only); nothing is sent as a cookie, so another site cannot make
// the browser act for the user (no CSRF). Text from the API is only ever set as text, never
// as HTML. It must not hold secrets beyond the token, and must not poll faster than needed.
"use strict";

const TOKEN_KEY = "baton.token";
let me = null;          // {name, role}
let stopPage = null;    // the current page's clean-up (timers, streams)

// ---- small helpers -------------------------------------------------------------------------

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function badge(status) {
  const s = String(status || "unknown");
  return h("span", { class: "badge s-" + s.replace(/[^a-z_]/gi, "_").toLowerCase(),
    "data-status": s }, s.replace(/_/g, " "));
}

function fmtTime(t) {
  if (!t) return "";
  const d = new Date(t);
  return isNaN(d) ? String(t) : d.toLocaleString();
}

function fmtMs(ms) {
  if (ms === null || ms === undefined) return "";
  if (ms < 1000) return ms + " ms";
  if (ms < 60000) return (ms / 1000).toFixed(1) + " s";
  return Math.floor(ms / 60000) + " min " + Math.round((ms % 60000) / 1000) + " s";
}

function token() { return sessionStorage.getItem(TOKEN_KEY); }

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(path, opts = {}) {
  const headers = Object.assign({ "Accept": "application/json" }, opts.headers || {});
  const t = token();
  if (t) headers["Authorization"] = "Bearer " + t;
  if (opts.body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch("/api/v1" + path, {
    method: opts.method || "GET", headers,
    body: opts.body !== undefined ? JSON.stringify(opts.body) : undefined,
    signal: opts.signal,
  });
  let data = null;
  const text = await res.text();
  try { data = text ? JSON.parse(text) : null; } catch (_) { data = { error: text }; }
  if (res.status === 401) {
    sessionStorage.removeItem(TOKEN_KEY);
    me = null;
    location.hash = "#/login";
    throw new ApiError(401, (data && data.error) || "not signed in");
  }
  if (!res.ok) throw new ApiError(res.status, (data && data.error) || res.statusText);
  return data;
}

// Server-sent events over fetch (EventSource cannot send the Authorization header).
function stream(path, onEvent, onEnd) {
  const ctl = new AbortController();
  (async () => {
    try {
      const res = await fetch("/api/v1" + path, {
        headers: { "Authorization": "Bearer " + token(), "Accept": "text/event-stream" },
        signal: ctl.signal,
      });
      if (!res.ok || !res.body) throw new Error("stream " + res.status);
      const reader = res.body.getReader();
      const dec = new TextDecoder();
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += dec.decode(value, { stream: true });
        let i;
        while ((i = buf.indexOf("\n\n")) >= 0) {
          const chunk = buf.slice(0, i);
          buf = buf.slice(i + 2);
          let event = "message", data = "";
          for (const line of chunk.split("\n")) {
            if (line.startsWith("event:")) event = line.slice(6).trim();
            else if (line.startsWith("data:")) data += line.slice(5).trim();
          }
          if (data) { try { onEvent(event, JSON.parse(data)); } catch (_) { /* partial */ } }
        }
      }
      if (onEnd) onEnd(null);
    } catch (e) {
      if (!ctl.signal.aborted && onEnd) onEnd(e);
    }
  })();
  return () => ctl.abort();
}

function render(...nodes) {
  const main = document.getElementById("main");
  main.replaceChildren(...nodes.flat());
}

function errorBox(e) { return h("p", { class: "error", role: "alert" }, String(e.message || e)); }

// ---- routing -------------------------------------------------------------------------------

const routes = [
  [/^#\/login$/, loginPage],
  [/^#\/runs$/, runsPage],
  [/^#\/runs\/([^/]+)$/, runPage],
  [/^#\/runs\/([^/]+)\/plan$/, (id) => runPage(id, "plan")],
  [/^#\/workflows$/, workflowsPage],
  [/^#\/workflows\/([^/]+)$/, workflowPage],
  [/^#\/approvals$/, approvalsPage],
  [/^#\/services$/, servicesPage],
  [/^#\/drift$/, driftPage],
  [/^#\/audit$/, auditPage],
  [/^#\/policies$/, policiesPage],
];

async function route() {
  if (stopPage) { try { stopPage(); } catch (_) { /* ignore */ } stopPage = null; }
  let hash = location.hash || "#/runs";
  if (!token() && hash !== "#/login") { location.hash = "#/login"; return; }
  if (token() && !me && hash !== "#/login") {
    try { me = await api("/whoami"); } catch (e) { if (e.status === 401) return; }
  }
  const who = document.getElementById("who");
  who.replaceChildren(me ? h("span", {}, me.name + " (" + me.role + ")",
    h("button", { onclick: logout, id: "logout" }, "Sign out")) : "");
  for (const a of document.querySelectorAll("nav a")) {
    a.classList.toggle("active", hash.startsWith(a.getAttribute("href")));
  }
  for (const [re, page] of routes) {
    const m = hash.match(re);
    if (m) {
      try { await page(...m.slice(1).map(decodeURIComponent)); }
      catch (e) { if (e.status !== 401) render(h("h1", {}, "Error"), errorBox(e)); }
      return;
    }
  }
  location.hash = "#/runs";
}

function logout() {
  sessionStorage.removeItem(TOKEN_KEY);
  me = null;
  location.hash = "#/login";
}

function every(ms, f) {
  let t = null, stopped = false;
  const tick = async () => {
    if (stopped) return;
    try { await f(); } catch (_) { /* shown by f */ }
    if (!stopped) t = setTimeout(tick, ms);
  };
  tick();
  return () => { stopped = true; clearTimeout(t); };
}

// ---- pages ---------------------------------------------------------------------------------

function loginPage() {
  const input = h("input", { id: "token", type: "password", autocomplete: "off",
    placeholder: "baton_…", "aria-label": "API token" });
  const msg = h("p", {});
  const form = h("form", { class: "card login", onsubmit: async (ev) => {
    ev.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, input.value.trim());
    try {
      me = await api("/whoami");
      location.hash = "#/runs";
    } catch (e) {
      sessionStorage.removeItem(TOKEN_KEY);
      location.hash = "#/login";
      msg.replaceChildren(errorBox(e.status === 429
        ? "Too many failed sign-ins from this address; wait a minute."
        : "That token is not valid."));
    }
  } },
    h("h1", {}, "Sign in to Baton"),
    h("p", { class: "muted" }, "Paste an API token (", h("code", {}, "baton token create --role viewer --name NAME"), ")."),
    h("label", { for: "token" }, "Token"), input,
    h("p", {}, h("button", { class: "primary", type: "submit", id: "signin" }, "Sign in")), msg);
  render(form);
  input.focus();
}

async function runsPage() {
  const status = h("select", { id: "filter-status" },
    ["", "running", "waiting", "succeeded", "completed", "failed", "rolled_back", "interrupted", "cancelled"]
      .map((s) => h("option", { value: s }, s || "any status")));
  const kind = h("select", { id: "filter-kind" },
    ["", "workflow", "apply", "destroy", "resume", "rollback"]
      .map((s) => h("option", { value: s }, s || "any kind")));
  const body = h("tbody", {});
  const err = h("div", {});
  const table = h("table", { id: "runs" },
    h("thead", {}, h("tr", {}, ["Run", "Kind", "Name", "Status", "Started", "By", "Summary"]
      .map((t) => h("th", {}, t)))), body);
  const load = async () => {
    const q = new URLSearchParams({ limit: "100" });
    if (status.value) q.set("status", status.value);
    if (kind.value) q.set("kind", kind.value);
    try {
      const data = await api("/runs?" + q);
      err.replaceChildren();
      body.replaceChildren(...(data.runs || []).map((r) => h("tr", {
        class: "clickable", "data-run": r.id, onclick: () => { location.hash = "#/runs/" + encodeURIComponent(r.id); } },
        h("td", { class: "mono" }, r.id.slice(0, 12)), h("td", {}, r.kind),
        h("td", {}, r.name || ""), h("td", {}, badge(r.status)),
        h("td", {}, fmtTime(r.started_at)), h("td", {}, r.who || ""),
        h("td", {}, r.summary || ""))));
      if (!(data.runs || []).length) body.replaceChildren(h("tr", {}, h("td", { colspan: 7, class: "muted" }, "No runs yet.")));
    } catch (e) { err.replaceChildren(errorBox(e)); }
  };
  status.onchange = load; kind.onchange = load;
  render(h("h1", {}, "Runs"), h("div", { class: "row" }, status, kind), err,
    h("div", { class: "card" }, table));
  stopPage = every(2000, load);
}

// The run page: summary, approvals, graph (live), timeline, plan, logs, journal.
async function runPage(id, tab) {
  let data = await api("/runs/" + encodeURIComponent(id));
  let selected = null;
  const head = h("div", {});
  const approvals = h("div", {});
  const tabs = h("div", { class: "tabs" });
  const pane = h("div", { class: "card" });
  const canvas = h("canvas", { id: "graph" });
  const legend = h("div", { class: "legend" }, ["pending", "running", "waiting", "succeeded",
    "failed", "retrying", "rolled_back"].map((s) => badge(s)));
  const nodesBody = h("tbody", {});
  const nodesTable = h("table", { id: "nodes" }, h("thead", {}, h("tr", {},
    ["Node", "Kind", "Status", "Attempts", "Duration", "Error"].map((t) => h("th", {}, t)))), nodesBody);
  const graph = new Graph(canvas, (n) => { selected = n.id; show("logs"); });
  let current = tab || "graph";

  const drawHead = () => {
    const r = data;
    head.replaceChildren(h("h1", {}, (r.kind === "workflow" ? "Workflow " + (r.name || "") : "Run " + r.kind) + " ",
      badge(r.status)),
      h("p", { class: "muted" }, "Run ", h("code", {}, r.id), " · started ", fmtTime(r.started_at),
        r.finished_at ? " · finished " + fmtTime(r.finished_at) : "", r.who ? " · by " + r.who : "",
        r.summary ? " · " + r.summary : ""),
      h("div", { class: "row" },
        (r.status === "running" || r.status === "waiting") && can("operator")
          ? h("button", { class: "danger", id: "cancel", onclick: () => act("cancel") }, "Cancel") : null,
        (r.status === "interrupted" || r.status === "failed") && can("operator")
          ? h("button", { id: "resume", onclick: () => act("resume") }, "Resume") : null,
        (r.status === "succeeded" || r.status === "failed") && can("operator") && r.kind !== "rollback"
          ? h("button", { id: "rollback", onclick: () => act("rollback") }, "Roll back") : null));
    const waiting = (data.graph.nodes || []).filter((n) => n.status === "waiting" && n.kind === "approval");
    approvals.replaceChildren(...waiting.map((n) => approvalCard(data.id, n, refresh)));
  };
  const act = async (what) => {
    try { await api("/runs/" + encodeURIComponent(id) + "/" + what, { method: "POST", body: {} }); await refresh(); }
    catch (e) { approvals.prepend(errorBox(e)); }
  };
  const drawNodes = () => {
    nodesBody.replaceChildren(...(data.graph.nodes || []).slice(0, 2000).map((n) => h("tr", {
      class: "clickable", "data-node": n.id, "data-status": n.status,
      onclick: () => { selected = n.id; show("logs"); } },
      h("td", { class: "mono" }, n.label || n.id), h("td", {}, n.kind || ""), h("td", {}, badge(n.status)),
      h("td", {}, n.attempts || ""), h("td", {}, fmtMs(n.duration_ms)), h("td", {}, n.error || ""))));
  };
  const show = async (t) => {
    current = t;
    for (const b of tabs.children) b.classList.toggle("active", b.dataset.tab === t);
    if (t === "graph") {
      pane.replaceChildren(legend, canvas, h("h2", {}, "Nodes"), nodesTable);
      graph.resize(); graph.draw();
    } else if (t === "timeline") {
      pane.replaceChildren(timeline(data.graph.nodes || []));
    } else if (t === "plan") {
      pane.replaceChildren(h("p", { class: "muted" }, "Loading the plan…"));
      try { pane.replaceChildren(planDiff(await api("/runs/" + encodeURIComponent(id) + "/plan"))); }
      catch (e) { pane.replaceChildren(errorBox(e)); }
    } else if (t === "logs") {
      const nodes = data.graph.nodes || [];
      const pick = h("select", { id: "log-node", onchange: () => { selected = pick.value; show("logs"); } },
        nodes.map((n) => h("option", { value: n.id, selected: n.id === selected }, n.label || n.id)));
      if (!selected && nodes.length) {
        const failed = nodes.find((n) => n.status === "failed");
        selected = (failed || nodes[0]).id;
        pick.value = selected;
      }
      const out = h("pre", { id: "log" }, "Loading…");
      pane.replaceChildren(h("label", { for: "log-node" }, "Logs of"), pick, out);
      if (selected) {
        try {
          const l = await api("/runs/" + encodeURIComponent(id) + "/logs?node=" + encodeURIComponent(selected));
          out.textContent = l.text || "(no output)";
        } catch (e) { out.textContent = String(e.message); }
      }
    } else if (t === "journal") {
      pane.replaceChildren(h("table", { id: "journal" }, h("thead", {}, h("tr", {},
        ["#", "Address", "Action", "Phase", "Status", "Attempts", "Duration", "Error"].map((x) => h("th", {}, x)))),
        h("tbody", {}, (data.actions || []).map((j) => h("tr", {},
          h("td", {}, j.seq), h("td", { class: "mono" }, j.address), h("td", {}, j.action), h("td", {}, j.phase),
          h("td", {}, badge(j.status)), h("td", {}, j.attempts), h("td", {}, fmtMs(j.duration_ms)),
          h("td", {}, j.error || ""))))));
    }
  };
  for (const [t, label] of [["graph", "Graph"], ["timeline", "Timeline"], ["plan", "Plan"],
    ["logs", "Logs"], ["journal", "Journal"]]) {
    tabs.append(h("button", { "data-tab": t, id: "tab-" + t, onclick: () => show(t) }, label));
  }
  const refresh = async () => {
    data = await api("/runs/" + encodeURIComponent(id));
    update();
  };
  const update = () => {
    drawHead(); drawNodes(); graph.set(data.graph);
    if (current === "timeline") pane.replaceChildren(timeline(data.graph.nodes || []));
  };
  render(head, approvals, tabs, pane);
  update();
  show(current);
  // Live: the server pushes the run whenever it changes; polling if the stream ends.
  let stopPoll = null;
  const stopStream = stream("/runs/" + encodeURIComponent(id) + "/events", (ev, d) => {
    if (ev === "run" && d && d.id) { data = d; update(); }
  }, () => { if (!stopPoll) stopPoll = every(2000, refresh); });
  stopPage = () => { stopStream(); if (stopPoll) stopPoll(); graph.stop(); };
}

function can(role) {
  const order = { viewer: 0, operator: 1, approver: 1, admin: 3 };
  if (!me) return false;
  if (me.role === "admin") return true;
  if (role === "approver") return me.role === "approver";
  return (order[me.role] || 0) >= (order[role] || 0) && me.role !== "approver";
}

function approvalCard(runId, n, after) {
  const reason = h("input", { id: "reason-" + n.id, placeholder: "Reason (optional)" });
  const msg = h("div", {});
  const decide = async (decision) => {
    try {
      await api("/runs/" + encodeURIComponent(runId) + "/" + decision,
        { method: "POST", body: { step: n.id, reason: reason.value } });
      msg.replaceChildren(h("p", {}, decision === "approve" ? "Approved." : "Rejected."));
      if (after) await after();
    } catch (e) { msg.replaceChildren(errorBox(e)); }
  };
  return h("div", { class: "card approval", "data-step": n.id },
    h("strong", {}, "Approval waiting: "), h("span", { class: "mono" }, n.label || n.id),
    n.message ? h("p", {}, n.message) : null,
    h("div", { class: "row" }, reason,
      h("button", { class: "primary", id: "approve-" + n.id, onclick: () => decide("approve") }, "Approve"),
      h("button", { class: "danger", id: "reject-" + n.id, onclick: () => decide("reject") }, "Reject")), msg);
}

function timeline(nodes) {
  const withTimes = nodes.filter((n) => n.started_at).slice(0, 2000);
  if (!withTimes.length) return h("p", { class: "muted" }, "Nothing has started yet.");
  const start = Math.min(...withTimes.map((n) => Date.parse(n.started_at)));
  const end = Math.max(...withTimes.map((n) => Date.parse(n.started_at) + (n.duration_ms || 0)), start + 1);
  const span = end - start;
  return h("div", { id: "timeline" },
    h("p", { class: "muted" }, "Total ", fmtMs(span)),
    withTimes.map((n) => {
      const s = Date.parse(n.started_at) - start;
      const color = STATUS_COLORS[n.status] || STATUS_COLORS.pending;
      return h("div", { class: "gantt-row" }, h("span", { class: "mono", title: n.id }, n.label || n.id),
        h("div", { class: "gantt-track" }, h("div", { class: "gantt-bar",
          title: (n.label || n.id) + ": " + fmtMs(n.duration_ms),
          style: `left:${(100 * s / span).toFixed(2)}%;width:${(100 * (n.duration_ms || 0) / span).toFixed(2)}%;background:${color}` })));
    }));
}

// Terraform's symbols: + create, - destroy, ~ update, -/+ replace, <= read.
function planDiff(plan) {
  const changes = plan.changes || [];
  if (!changes.length) return h("p", {}, "No changes.");
  const sym = (acts) => acts.join(",") === "create" ? ["+", "add"]
    : acts.join(",") === "delete" ? ["-", "del"]
    : acts.includes("create") && acts.includes("delete") ? ["-/+", "res"]
    : acts.join(",") === "read" ? ["<=", "chg"] : ["~", "chg"];
  const counts = plan.summary ? h("p", {}, plan.summary) : null;
  return h("div", { class: "diff", id: "plan" }, counts, changes.map((c) => {
    const [s, cls] = sym(c.actions || []);
    const lines = [];
    const keys = new Set([...Object.keys(c.before || {}), ...Object.keys(c.after || {})]);
    // Terraform's markers print bare; a null attribute of a new or gone object is left out.
    const show = (v) => (v === "(known after apply)" || v === "(sensitive value)") ? v : JSON.stringify(v);
    for (const k of [...keys].sort()) {
      const b = c.before ? c.before[k] : undefined, a = c.after ? c.after[k] : undefined;
      if ((b === null && !c.after) || (a === null && !c.before)) continue;
      const bs = b === undefined ? null : show(b);
      const as = a === undefined ? null : show(a);
      if (bs === as) continue;
      if (bs === null) lines.push(h("div", { class: "add" }, "  + " + k + " = " + as));
      else if (as === null) lines.push(h("div", { class: "del" }, "  - " + k + " = " + bs));
      else lines.push(h("div", { class: "chg" }, "  ~ " + k + " = " + bs + " -> " + as));
    }
    return h("pre", { "data-address": c.address },
      h("div", { class: cls }, s + " " + c.address + (c.reason ? "  # " + c.reason : "")), lines);
  }));
}

async function workflowsPage() {
  const data = await api("/workflows");
  render(h("h1", {}, "Workflows"), h("div", { class: "card" }, h("table", { id: "workflows" },
    h("thead", {}, h("tr", {}, ["Workflow", "Inputs", "Schedules", "Triggers"].map((t) => h("th", {}, t)))),
    h("tbody", {}, (data.workflows || []).map((w) => h("tr", {
      class: "clickable", "data-workflow": w.name,
      onclick: () => { location.hash = "#/workflows/" + encodeURIComponent(w.name); } },
      h("td", {}, w.name), h("td", {}, (w.inputs || []).map((i) => i.name).join(", ")),
      h("td", {}, (w.schedules || []).map((s) => s.name + " (" + s.cron + ")").join(", ")),
      h("td", {}, (w.triggers || []).map((t) => t.type).join(", ")))))))) ;
}

async function workflowPage(name) {
  const data = await api("/workflows");
  const w = (data.workflows || []).find((x) => x.name === name);
  if (!w) { render(h("h1", {}, "No workflow " + name)); return; }
  const fields = (w.inputs || []).map((i) => {
    const input = h("input", { id: "input-" + i.name, name: i.name,
      type: i.sensitive ? "password" : "text",
      placeholder: i.default !== undefined && i.default !== null ? JSON.stringify(i.default) : "" });
    return [h("label", { for: "input-" + i.name }, i.name, i.type ? " (" + i.type + ")" : ""),
      i.description ? h("div", { class: "muted" }, i.description) : null, input];
  });
  const msg = h("div", {});
  const form = h("form", { class: "card", onsubmit: async (ev) => {
    ev.preventDefault();
    const inputs = {};
    for (const i of w.inputs || []) {
      const v = form.querySelector("#input-" + CSS.escape(i.name)).value;
      if (v !== "") { try { inputs[i.name] = JSON.parse(v); } catch (_) { inputs[i.name] = v; } }
    }
    try {
      const r = await api("/workflows/" + encodeURIComponent(name) + "/runs", { method: "POST", body: { inputs } });
      location.hash = "#/runs/" + encodeURIComponent(r.run.id);
    } catch (e) { msg.replaceChildren(errorBox(e)); }
  } }, fields, h("p", {}, can("operator")
    ? h("button", { class: "primary", type: "submit", id: "run-workflow" }, "Run " + name)
    : h("span", { class: "muted" }, "Your role cannot start runs.")), msg);
  render(h("h1", {}, "Workflow " + name), form,
    h("h2", {}, "Steps"), h("div", { class: "card" }, h("ol", {}, (w.steps || []).map((s) =>
      h("li", {}, h("code", {}, s.name), " ", h("span", { class: "muted" }, s.kind),
        s.depends_on && s.depends_on.length ? " after " + s.depends_on.join(", ") : "")))));
}

async function approvalsPage() {
  const box = h("div", { id: "approvals" });
  const load = async () => {
    const data = await api("/approvals");
    const list = data.approvals || [];
    box.replaceChildren(...(list.length ? list.map((a) => h("div", {},
      h("p", {}, h("a", { href: "#/runs/" + encodeURIComponent(a.run) }, "Run " + a.run.slice(0, 12)),
        " of workflow ", h("strong", {}, a.workflow || "")),
      approvalCard(a.run, { id: a.step, label: a.step, message: a.message }, load)))
      : [h("p", { class: "muted" }, "Nothing is waiting for an approval.")]));
  };
  render(h("h1", {}, "Approvals"), box);
  stopPage = every(3000, load);
}

async function servicesPage() {
  const box = h("div", {});
  const load = async () => {
    const data = await api("/services");
    const svcs = data.services || [];
    box.replaceChildren(
      h("p", { class: "muted" }, data.agent_pid ? "Agent pid " + data.agent_pid + (data.agent_host ? " on " + data.agent_host : "") : "No agent reports services."),
      ...svcs.map((s) => h("div", { class: "card", "data-service": s.name },
        h("h2", {}, "service." + s.name, " ", badge(s.deployment.split(" ")[0])),
        h("p", {}, s.healthy_replicas + "/" + s.desired_replicas + " healthy · " + s.restarts + " restart(s) · version " + s.version),
        h("table", {}, h("thead", {}, h("tr", {}, ["#", "Id", "Health", "Ports", "Restarts"].map((t) => h("th", {}, t)))),
          h("tbody", {}, (s.replicas || []).map((r) => h("tr", {},
            h("td", {}, r.index), h("td", { class: "mono" }, r.id), h("td", {}, badge(r.healthy ? "healthy" : "unhealthy")),
            h("td", {}, Object.entries(r.ports || {}).map(([k, v]) => k + "=" + v).join(", ")),
            h("td", {}, r.restarts))))))));
  };
  render(h("h1", {}, "Services"), box);
  stopPage = every(2000, load);
}

async function driftPage() {
  const data = await api("/drift");
  render(h("h1", {}, "Drift"), h("div", { class: "card" }, h("table", { id: "drift" },
    h("thead", {}, h("tr", {}, ["Stack", "Last check", "Outcome", "Drifted", "Repaired"].map((t) => h("th", {}, t)))),
    h("tbody", {}, (data.stacks || []).map((s) => h("tr", {},
      h("td", {}, s.stack), h("td", {}, fmtTime(s.time)), h("td", {}, badge(s.outcome)),
      h("td", { class: "mono" }, (s.drifted || []).join(", ")), h("td", { class: "mono" }, (s.repaired || []).join(", "))))))));
}

async function auditPage() {
  const data = await api("/audit?limit=200");
  const result = h("span", { id: "verify-result" });
  const verify = async () => {
    result.replaceChildren("Verifying…");
    try {
      const v = await api("/audit/verify");
      result.replaceChildren(v.ok ? badge("ok") : badge("broken"), " ", v.message || (v.records + " records"));
    } catch (e) { result.replaceChildren(errorBox(e)); }
  };
  render(h("h1", {}, "Audit log"), h("div", { class: "row" },
    h("button", { id: "verify", onclick: verify }, "Verify the chain"), result),
    h("div", { class: "card" }, h("table", { id: "audit" },
      h("thead", {}, h("tr", {}, ["#", "Time", "Actor", "Command", "Outcome", "Changes"].map((t) => h("th", {}, t)))),
      h("tbody", {}, (data.records || []).map((r) => h("tr", {},
        h("td", {}, r.id), h("td", {}, fmtTime(r.time)), h("td", {}, r.actor || ""),
        h("td", {}, r.command), h("td", {}, badge(r.outcome)),
        h("td", { class: "mono" }, (r.changes || []).map((c) => c.address).join(", "))))))));
}

async function policiesPage() {
  const data = await api("/policies");
  render(h("h1", {}, "Policies"),
    h("div", { class: "card" }, h("table", { id: "policies" },
      h("thead", {}, h("tr", {}, ["Policy", "Enforcement", "File"].map((t) => h("th", {}, t)))),
      h("tbody", {}, (data.policies || []).map((p) => h("tr", {},
        h("td", {}, p.name), h("td", {}, p.enforcement || ""), h("td", { class: "mono" }, p.file || "")))))),
    h("h2", {}, "Last decisions"),
    h("div", { class: "card" }, h("table", { id: "decisions" },
      h("thead", {}, h("tr", {}, ["Time", "Command", "Decision", "Messages"].map((t) => h("th", {}, t)))),
      h("tbody", {}, (data.decisions || []).map((d) => h("tr", {},
        h("td", {}, fmtTime(d.time)), h("td", {}, d.command), h("td", {}, badge(d.decision)),
        h("td", {}, (d.messages || []).join("; "))))))));
}

// ---- the run graph: a layered DAG on a canvas (thousands of nodes stay fast) ----------------

const STATUS_COLORS = {
  pending: "#adb5bd", queued: "#9c36b5", running: "#1c7ed6", waiting: "#9c36b5",
  succeeded: "#2b8a3e", applied: "#2b8a3e", failed: "#c92a2a", retrying: "#e67700",
  rolled_back: "#e67700", rolling_back: "#e67700", skipped: "#ced4da", cancelled: "#e67700",
  interrupted: "#e67700",
};

class Graph {
  constructor(canvas, onPick) {
    this.c = canvas; this.onPick = onPick; this.nodes = []; this.edges = []; this.pos = new Map();
    this.scale = 1; this.ox = 20; this.oy = 20; this.key = "";
    let drag = null;
    canvas.addEventListener("pointerdown", (e) => { drag = { x: e.clientX, y: e.clientY, moved: false }; canvas.setPointerCapture(e.pointerId); });
    canvas.addEventListener("pointermove", (e) => {
      if (!drag) return;
      const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
      if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
      this.ox += dx; this.oy += dy; drag.x = e.clientX; drag.y = e.clientY; this.draw();
    });
    canvas.addEventListener("pointerup", (e) => {
      if (drag && !drag.moved) this.pick(e);
      drag = null;
    });
    canvas.addEventListener("wheel", (e) => {
      e.preventDefault();
      const r = canvas.getBoundingClientRect();
      const mx = e.clientX - r.left, my = e.clientY - r.top;
      const f = Math.exp(-e.deltaY * 0.0015);
      this.ox = mx - (mx - this.ox) * f; this.oy = my - (my - this.oy) * f; this.scale *= f;
      this.draw();
    }, { passive: false });
    this.onResize = () => { this.resize(); this.draw(); };
    window.addEventListener("resize", this.onResize);
  }
  stop() { window.removeEventListener("resize", this.onResize); }
  resize() {
    const r = this.c.getBoundingClientRect();
    const d = window.devicePixelRatio || 1;
    this.c.width = Math.max(1, r.width * d); this.c.height = Math.max(1, r.height * d);
    // A layout made while the canvas was not on the page is fitted once it is.
    if (this.needFit) this.fit();
  }
  set(g) {
    this.nodes = g.nodes || []; this.edges = g.edges || [];
    this.byId = new Map(this.nodes.map((n) => [n.id, n]));
    const key = this.nodes.map((n) => n.id).join("\n") + "|" + this.edges.length;
    if (key !== this.key) { this.key = key; this.layout(); this.fit(); }
    this.draw();
  }
  // Longest-path layers, then order within a layer by the mean position of the parents.
  layout() {
    const preds = new Map(this.nodes.map((n) => [n.id, []]));
    for (const e of this.edges) if (preds.has(e.to) && preds.has(e.from)) preds.get(e.to).push(e.from);
    // Layers by Kahn's order (no recursion: a 10,000-step chain is fine); a cycle's nodes,
    // which a run graph never has, go to layer 0.
    const layer = new Map();
    const indeg = new Map(this.nodes.map((n) => [n.id, 0]));
    const succs = new Map(this.nodes.map((n) => [n.id, []]));
    for (const [id, ps] of preds) for (const p of ps) { indeg.set(id, indeg.get(id) + 1); succs.get(p).push(id); }
    const queue = this.nodes.filter((n) => indeg.get(n.id) === 0).map((n) => n.id);
    for (const id of queue) layer.set(id, 0);
    for (let i = 0; i < queue.length; i++) {
      const id = queue[i];
      for (const s of succs.get(id)) {
        layer.set(s, Math.max(layer.get(s) || 0, layer.get(id) + 1));
        indeg.set(s, indeg.get(s) - 1);
        if (indeg.get(s) === 0) queue.push(s);
      }
    }
    const layers = [];
    for (const n of this.nodes) { const d = layer.get(n.id) || 0; (layers[d] = layers[d] || []).push(n.id); }
    // A layer of more than ROWS nodes wraps into several columns, so a 10,000-instance
    // resource draws as a block, not a column too tall to see.
    const y = new Map();
    this.pos = new Map();
    const W = 190, H = 34, ROWS = 80;
    let x = 0, tallest = 1;
    layers.forEach((ids) => {
      ids = ids || [];
      const keyed = ids.map((id) => {
        const ps = preds.get(id) || [];
        const m = ps.length ? ps.reduce((s, p) => s + (y.get(p) || 0), 0) / ps.length : 0;
        return [m, id];
      }).sort((a, b) => a[0] - b[0]);
      keyed.forEach(([, id], i) => {
        y.set(id, i);
        this.pos.set(id, { x: x + Math.floor(i / ROWS) * W, y: (i % ROWS) * H });
      });
      x += Math.max(1, Math.ceil(keyed.length / ROWS)) * W;
      tallest = Math.max(tallest, Math.min(keyed.length, ROWS));
    });
    this.w = x; this.h = tallest * H;
  }
  fit() {
    const r = this.c.getBoundingClientRect();
    if (r.width < 50 || r.height < 50) { this.needFit = true; return; }
    this.needFit = false;
    const s = Math.min(1.2, (r.width - 40) / Math.max(this.w, 1), (r.height - 40) / Math.max(this.h, 1));
    this.scale = Math.max(0.02, s || 1); this.ox = 20; this.oy = 20;
  }
  draw() {
    const ctx = this.c.getContext("2d");
    const d = window.devicePixelRatio || 1;
    ctx.setTransform(d, 0, 0, d, 0, 0);
    ctx.clearRect(0, 0, this.c.width, this.c.height);
    ctx.translate(this.ox, this.oy); ctx.scale(this.scale, this.scale);
    const vw = this.c.width / d, vh = this.c.height / d;
    const visible = (p) => {
      const sx = p.x * this.scale + this.ox, sy = p.y * this.scale + this.oy;
      return sx > -200 * this.scale - 10 && sx < vw + 10 && sy > -40 && sy < vh + 40;
    };
    ctx.strokeStyle = "#ced4da"; ctx.lineWidth = 1 / Math.max(this.scale, 0.2);
    ctx.beginPath();
    let drawn = 0;
    for (const e of this.edges) {
      const a = this.pos.get(e.from), b = this.pos.get(e.to);
      if (!a || !b || (!visible(a) && !visible(b))) continue;
      if (++drawn > 20000) break;
      ctx.moveTo(a.x + 160, a.y + 12); ctx.lineTo(b.x, b.y + 12);
    }
    ctx.stroke();
    const label = this.scale > 0.45;
    ctx.font = "12px system-ui, sans-serif"; ctx.textBaseline = "middle";
    for (const n of this.nodes) {
      const p = this.pos.get(n.id);
      if (!p || !visible(p)) continue;
      ctx.fillStyle = STATUS_COLORS[n.status] || STATUS_COLORS.pending;
      ctx.fillRect(p.x, p.y, 160, 24);
      if (label) {
        ctx.fillStyle = "#fff";
        const t = n.label || n.id;
        ctx.fillText(t.length > 24 ? t.slice(0, 23) + "…" : t, p.x + 6, p.y + 12);
      }
    }
  }
  pick(e) {
    const r = this.c.getBoundingClientRect();
    const x = (e.clientX - r.left - this.ox) / this.scale, y = (e.clientY - r.top - this.oy) / this.scale;
    for (const [id, p] of this.pos) {
      if (x >= p.x && x <= p.x + 160 && y >= p.y && y <= p.y + 24) { this.onPick(this.byId.get(id)); return; }
    }
  }
}

window.addEventListener("hashchange", route);
route();
