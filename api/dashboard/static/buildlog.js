/* A build's log panel: the progress WebSocket, live. Lines are numbered (n); the panel keeps the next
   number it expects, so a replayed line is skipped, and a gap (a stream capped or expired, a reconnect
   that missed some) is filled from GET /builds/{id}/logs before the lines after it are shown. A dropped
   socket reconnects with last_event_id. Each open() is a generation; anything older is ignored. */
"use strict";

(function () {
  const C = window.Conveyor;
  const {$} = C;
  const RANK = {queued: 0, running: 1, completed: 2, failed: 2, cancelled: 2};
  const PAGE = 2000;
  const log = {gen: 0, taskId: null, socket: null, next: 0, step: null, status: null, lastId: null,
               final: false, chain: Promise.resolve(), retry: 1000};

  function showStatus(status) {
    if (!status || (RANK[status] ?? 0) < (RANK[log.status] ?? 0)) return;  // never backwards
    log.status = status;
    $("#log-status").textContent = status;
    $("#log-status").className = "badge status-" + status;
    $("#cancel-build").hidden = C.FINAL.includes(status) || !C.can("build:cancel");
  }

  function append(lines) {
    const parts = [];
    for (const line of lines) {
      if (line.n < log.next) continue;  // already shown
      if (line.step && line.step !== log.step) parts.push((log.next ? "\n" : "") + "── " + line.step + " ──\n");
      log.step = line.step || log.step;
      parts.push(line.text + "\n");
      log.next = line.n + 1;
    }
    if (!parts.length) return;
    const pre = $("#log-lines");
    const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    pre.append(parts.join(""));
    if (atBottom) pre.scrollTop = pre.scrollHeight;
  }

  /* Stored lines from log.next up to (not including) `until`. */
  async function stored(gen, until) {
    while (gen === log.gen && log.next < until) {
      const page = await C.api("/api/v1/builds/" + log.taskId + "/logs?limit=" + PAGE + "&offset=" + log.next);
      if (gen !== log.gen) return;
      const wanted = page.lines.filter((line) => line.n < until);
      append(wanted);
      if (wanted.length < PAGE) return;
    }
  }

  /* One at a time, in order: a gap is filled before the lines after it. */
  function then(gen, work) {
    log.chain = log.chain.then(() => gen === log.gen && work()).catch(C.report);
  }

  function received(gen, m) {
    if (gen !== log.gen) return;
    if (m.id && m.type !== "connected") log.lastId = m.id;
    if (m.status) showStatus(m.status);
    if (m.type === "log") {
      const first = m.data.first_line ?? log.next;
      const lines = m.data.lines.map((text, i) => ({n: first + i, step: m.data.step, text}));
      then(gen, async () => {
        if (first > log.next) await stored(gen, first);
        if (gen === log.gen) append(lines);
      });
    } else if (m.type === "completion" || m.type === "error") {
      log.final = true;
      if (m.error) $("#log-error").textContent = m.error;
      then(gen, () => stored(gen, Infinity));  // whatever the stream no longer held
    }
  }

  async function connect(gen) {
    const resume = log.lastId ? "?last_event_id=" + encodeURIComponent(log.lastId) : "";
    let socket;
    try {
      socket = await C.socket("/api/v1/ws/builds/" + log.taskId + resume, {
        message: (m) => received(gen, m),
        open: () => { log.retry = 1000; },
        close: (code) => closed(gen, code),
      });
    } catch (error) {
      C.report(error);
      return;
    }
    if (gen === log.gen) log.socket = socket;
    else socket.close();
  }

  function closed(gen, code) {
    if (gen !== log.gen) return;
    log.socket = null;
    if (code === 4404) {
      $("#log-error").textContent = "No such build (or not yours).";
    } else if (!log.final && code !== 4401) {  // dropped mid-build: pick up after the last event seen
      setTimeout(() => gen === log.gen && connect(gen), log.retry);
      log.retry = Math.min(log.retry * 2, 30000);
    }
  }

  function close() {
    log.gen += 1;
    if (log.socket) log.socket.close();
    Object.assign(log, {taskId: null, socket: null, chain: Promise.resolve()});
    $("#log-panel").hidden = true;
    history.replaceState(null, "", location.pathname);
  }

  function open(taskId, status) {
    close();
    const gen = log.gen;
    Object.assign(log, {taskId, next: 0, step: null, status: null, lastId: null, final: false, retry: 1000});
    history.replaceState(null, "", "#build-" + taskId);
    $("#log-title").textContent = taskId;
    $("#log-lines").textContent = "";
    $("#log-error").textContent = "";
    $("#log-status").textContent = "";
    showStatus(status);
    $("#log-panel").hidden = false;
    $("#log-panel").scrollIntoView({block: "nearest"});
    connect(gen);
  }

  async function cancel() {
    try {
      const answer = await C.api("/api/v1/builds/" + log.taskId, {method: "DELETE"});
      C.flash(answer.message, "ok");
    } catch (error) {
      C.report(error);
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("#cancel-build").addEventListener("click", cancel);
    $("#close-log").addEventListener("click", close);
  });

  window.BuildLog = {
    open, close,
    status(taskId, status) {
      if (taskId === log.taskId) showStatus(status);
    },
  };
})();
