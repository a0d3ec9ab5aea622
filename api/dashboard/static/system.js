/* System: queues, workers, the scheduler, database and Redis (from /health/deep), the cache's counters and,
   for admins, the scheduled jobs with a button to run one now. */
"use strict";

(function () {
  const C = window.Conveyor;
  const {$, el} = C;

  function pairs(selector, entries) {
    $(selector + " dl").replaceChildren(...entries.filter(([, v]) => v !== undefined).map(([k, v]) =>
      [el("dt", {text: k}), el("dd", {text: v === null ? "—" : v})]).flat());
  }

  function badge(text) {
    return el("span", {class: "badge status-" + text, text});
  }

  function probe(check) {
    return check.status + " (" + check.response_ms + " ms" + (check.error ? ", " + check.error : "") + ")";
  }

  async function loadHealth() {
    const response = await fetch("/health/deep", {headers: {"Accept": "application/json"}});
    const report = await response.json();
    $("#overall").textContent = report.status;
    $("#overall").className = "badge status-" + report.status;
    $("#queues tbody").replaceChildren(...Object.entries(report.queues || {}).map(([name, q]) =>
      el("tr", {}, el("td", {text: name}), el("td", {text: q.ready}), el("td", {text: q.delayed}),
         el("td", {text: q.dead}))));
    const workers = (report.workers && report.workers.items) || [];
    $("#workers .count").textContent = workers.length;
    $("#workers .empty").hidden = workers.length > 0;
    $("#workers tbody").replaceChildren(...workers.map((w) =>
      el("tr", {}, el("td", {text: w.id}), el("td", {text: w.threads}),
         el("td", {class: "wide", text: (w.queues || []).join(", ")}), el("td", {text: C.when(w.seen_at)}))));
    const tick = report.scheduler || {};
    pairs("#scheduler", [["last tick", C.when(tick.last_tick) || "never"], ["leader", tick.leader],
                         ["seconds since", tick.seconds_since_tick]]);
    const hooks = report.webhooks || {};
    pairs("#services", [
      ["database", probe(report.database) + (report.database.engine ? ", " + report.database.engine : "")],
      ["redis", probe(report.redis)],
      ["webhooks active", hooks.active], ["webhooks failing", hooks.failing],
      ["deliveries pending", hooks.pending_deliveries], ["deliveries dead", hooks.dead_deliveries]]);
  }

  async function loadCache() {
    const stats = await C.api("/api/v1/cache/stats");
    pairs("#cache", [["hit rate", Math.round(stats.hit_rate * 1000) / 10 + "%"], ["hits", stats.cache_hits],
                     ["misses", stats.cache_misses], ["evicted", stats.evicted_entries],
                     ["size", Math.round(stats.current_size_bytes / 1024) + " KiB of " +
                              Math.round(stats.max_size_bytes / 1048576) + " MiB"]]);
  }

  async function runJob(name) {
    try {
      const answer = await C.api("/api/v1/admin/jobs/" + encodeURIComponent(name) + "/run", {method: "POST"});
      C.flash("Job " + answer.name + " " + answer.status + ".", "ok");
      await loadJobs();
    } catch (error) {
      C.report(error);
    }
  }

  async function loadJobs() {
    const page = await C.api("/api/v1/admin/jobs?limit=100");
    $("#jobs tbody").replaceChildren(...page.items.map((job) =>
      el("tr", {class: "job", dataset: {job: job.name}},
        el("td", {}, el("div", {text: job.name}), el("small", {class: "hint wide", text: job.description || ""})),
        el("td", {class: "wide", text: job.interval_seconds ? C.seconds(job.interval_seconds) : "after " + job.after}),
        el("td", {text: C.when(job.last_run_at) || "never"}),
        el("td", {}, job.last_status ? badge(job.last_status) : ""),
        el("td", {class: "wide", text: C.when(job.next_run_at)}),
        el("td", {}, el("button", {type: "button", class: "run-job secondary", text: "Run now",
                                   onclick: () => runJob(job.name)})))));
  }

  C.page(async () => {
    C.every(5000, loadHealth);
    C.every(10000, loadCache);
    if (C.can("admin")) {
      $("#jobs").hidden = false;
      C.every(10000, loadJobs);
    }
  });
})();
