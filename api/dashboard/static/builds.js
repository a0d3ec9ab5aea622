/* Builds: summary cards, start a build, the recent builds with live status (one progress WebSocket per
   unfinished build, plus a refresh of the list every few seconds for new ones), and a build's live log. */
"use strict";

(function () {
  const C = window.Conveyor;
  const {$, el} = C;
  const RANK = {queued: 0, running: 1, completed: 2, failed: 2, cancelled: 2};
  const MAX_WATCHERS = 20;
  const rows = new Map();      // task_id -> {row, status}
  const watchers = new Map();  // task_id -> WebSocket

  const isFinal = (status) => C.FINAL.includes(status);

  function cell(row, name) {
    return row.querySelector("td." + name);
  }

  /* A status never goes backwards: a list fetched before a WebSocket event must not undo it. */
  function setStatus(taskId, status, progress) {
    const entry = rows.get(taskId);
    if (entry && status && (RANK[status] ?? 0) >= (RANK[entry.status] ?? 0)) {
      entry.status = status;
      const link = entry.row.querySelector("a.status");
      link.textContent = status;
      link.className = "status badge status-" + status;
      if (typeof progress === "number") cell(entry.row, "progress").textContent = progress + "%";
    }
    if (status) window.BuildLog.status(taskId, status);
  }

  function newRow(build) {
    const link = el("a", {class: "status badge", href: "#build-" + build.task_id, dataset: {taskId: build.task_id},
                          title: "Open the live log", onclick: (e) => { e.preventDefault(); openLog(build.task_id); }});
    const row = el("tr", {class: "build"},
      el("td", {}, link), el("td", {class: "project"}), el("td", {class: "ref wide"}), el("td", {class: "progress"}),
      el("td", {class: "started"}), el("td", {class: "took wide"}), el("td", {class: "by wide"}));
    rows.set(build.task_id, {row, status: null});
    return row;
  }

  function showBuild(build) {
    const entry = rows.get(build.task_id) || {row: newRow(build)};
    const row = entry.row;
    cell(row, "project").textContent = build.project_name;
    cell(row, "ref").textContent = build.ref || "";
    cell(row, "started").textContent = C.when(build.started_at || build.created_at);
    const took = build.started_at && build.finished_at ? (Date.parse(build.finished_at) - Date.parse(build.started_at)) / 1000
      : null;
    cell(row, "took").textContent = C.seconds(took);
    cell(row, "by").textContent = build.created_by || "";
    setStatus(build.task_id, build.status, build.progress);
    return row;
  }

  /* A build ended live: its row (how long it took) and the summary cards are read again at once, not at their
     next poll (one refresh for several builds that end together). */
  let pending = null;
  function refreshSoon() {
    if (pending) return;
    pending = setTimeout(() => {
      pending = null;
      loadBuilds().catch(C.report);
      loadSummary().catch(C.report);
    }, 250);
  }

  function watch(taskId) {
    if (watchers.has(taskId) || watchers.size >= MAX_WATCHERS) return;
    watchers.set(taskId, null);
    C.socket("/api/v1/ws/builds/" + taskId, {
      message: (m) => {
        setStatus(taskId, m.status, m.progress);
        if (isFinal(m.status)) refreshSoon();
      },
      close: () => watchers.delete(taskId),
    }).then((ws) => watchers.set(taskId, ws), () => watchers.delete(taskId));
  }

  async function loadBuilds() {
    const page = await C.api("/api/v1/builds?limit=20");
    const body = $("#builds tbody");
    const seen = new Set();
    for (const build of page.items) {
      body.append(showBuild(build));  // append moves an existing row: the order follows the list
      seen.add(build.task_id);
      if (!isFinal(rows.get(build.task_id).status)) watch(build.task_id);
    }
    for (const [taskId, entry] of rows) {
      if (!seen.has(taskId)) {
        entry.row.remove();
        rows.delete(taskId);
      }
    }
    $("#no-builds").hidden = page.items.length > 0;
  }

  async function loadSummary() {
    const data = await C.api("/api/v1/dashboard");
    const card = (title, counts) => el("div", {class: "stat"}, el("h3", {text: title}),
      el("dl", {}, Object.entries(counts).map(([k, v]) => [el("dt", {text: k.replace(/_/g, " ")}),
                                                          el("dd", {text: v})])));
    $("#summary").replaceChildren(
      card("Builds, last 24 h", Object.keys(data.tasks_last_day).length ? data.tasks_last_day : {none: 0}),
      card("Webhooks", data.webhooks), card("Open alerts", data.alerts), card("Clusters", data.clusters));
  }

  async function loadProjects() {
    const page = await C.api("/api/v1/projects?limit=100");
    const select = $("#start-build select[name=project_name]");
    select.replaceChildren(...page.items.map((p) => el("option", {value: p.name, text: p.name})));
    $("#no-projects").hidden = page.items.length > 0;
    $("#start-build").hidden = page.items.length === 0;
  }

  async function startBuild(event) {
    event.preventDefault();
    const form = event.target;
    const button = form.querySelector("button[type=submit]");
    const body = {project_name: form.project_name.value};
    if (form.ref.value.trim()) body.ref = form.ref.value.trim();
    button.disabled = true;  // one build per press, however eager the finger
    try {
      const answer = await C.api("/api/v1/builds", {json: body});
      C.flash("Build " + answer.task_id + " queued.", "ok");
      await loadBuilds();
    } catch (error) {
      C.report(error);
    } finally {
      button.disabled = false;
    }
  }

  function openLog(taskId) {
    const entry = rows.get(taskId);
    window.BuildLog.open(taskId, entry && entry.status);
  }

  C.page(async () => {
    $("#start-build").addEventListener("submit", startBuild);
    if (C.can("build:create")) {
      $("#start-card").hidden = false;
      loadProjects().catch(C.report);
    }
    C.every(5000, loadBuilds);
    C.every(15000, loadSummary);
    const wanted = /^#build-([0-9a-f-]{36})$/.exec(location.hash);
    if (wanted) openLog(wanted[1]);
  });
})();
