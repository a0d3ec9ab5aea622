/* Alerts: the list with acknowledge and resolve, and new alerts arriving live over the alerts WebSocket
   (which also brings the system status line every few seconds). */
"use strict";

(function () {
  const C = window.Conveyor;
  const {$, el} = C;

  function filters() {
    const form = $("#alert-filter");
    return {status: form.status.value, severity: form.severity.value};
  }

  function matches(alert) {
    const wanted = filters();
    return (!wanted.status || alert.status === wanted.status) && (!wanted.severity || alert.severity === wanted.severity);
  }

  async function change(alert, path, json, done) {
    try {
      const answer = await C.api(path, {json: json || {}});
      if (answer && answer.failed) throw new Error(answer.failures.map((f) => f.reason).join("; "));
      C.flash(done, "ok");
      const fresh = await C.api("/api/v1/alerts/" + alert.id);
      const row = $('tr.alert[data-alert-id="' + alert.id + '"]');
      if (row) row.replaceWith(alertRow(fresh));
    } catch (error) {
      C.report(error);
    }
  }

  function alertRow(alert) {
    const manage = C.can("alert:manage");
    const when = alert.status === "resolved" ? alert.resolved_at : alert.acknowledged_at;
    return el("tr", {class: "alert", dataset: {alertId: alert.id}},
      el("td", {}, el("span", {class: "badge severity-" + alert.severity, text: alert.severity})),
      el("td", {}, el("div", {text: alert.message}), el("small", {class: "hint", text: alert.rule || alert.metric || ""})),
      el("td", {class: "wide", text: C.when(alert.created_at)}),
      el("td", {}, el("span", {class: "alert-status badge status-" + alert.status, text: alert.status}),
        when ? el("small", {class: "hint block", text: C.when(when) + (alert.acknowledged_by && alert.status ===
          "acknowledged" ? " by " + alert.acknowledged_by : "")}) : null),
      el("td", {class: "actions"},
        manage && alert.status === "pending" ? el("button", {
          type: "button", class: "acknowledge", text: "Acknowledge",
          onclick: () => change(alert, "/api/v1/alerts/acknowledge", {alert_ids: [alert.id]},
                                "Alert " + alert.id + " acknowledged."),
        }) : null,
        manage && alert.status !== "resolved" ? el("button", {
          type: "button", class: "resolve secondary", text: "Resolve",
          onclick: () => change(alert, "/api/v1/alerts/" + alert.id + "/resolve", null,
                                "Alert " + alert.id + " resolved."),
        }) : null));
  }

  async function loadAlerts() {
    const wanted = filters();
    const query = new URLSearchParams({limit: "50"});
    if (wanted.status) query.set("status", wanted.status);
    if (wanted.severity) query.set("severity", wanted.severity);
    const started = Date.now();
    const page = await C.api("/api/v1/alerts?" + query);
    // Alerts that arrived live while this page was being read may be missing from it: keep them on top.
    const listed = new Set(page.items.map((a) => String(a.id)));
    const kept = [...document.querySelectorAll("#alerts tr.alert.fresh")].filter((row) =>
      Number(row.dataset.arrived) >= started && !listed.has(row.dataset.alertId));
    $("#alerts tbody").replaceChildren(...kept, ...page.items.map(alertRow));
    $("#no-alerts").hidden = page.items.length > 0;
  }

  async function arrived(data) {
    const id = data.alert_id ?? data.id;
    if ($('tr.alert[data-alert-id="' + id + '"]')) return;
    const alert = await C.api("/api/v1/alerts/" + id);
    if (!matches(alert) || $('tr.alert[data-alert-id="' + id + '"]')) return;
    const row = alertRow(alert);
    row.classList.add("fresh");
    row.dataset.arrived = String(Date.now());
    $("#alerts tbody").prepend(row);
    $("#no-alerts").hidden = true;
    C.flash("New " + alert.severity + " alert: " + alert.message, alert.severity === "CRITICAL" ? "error" : "info");
  }

  function statusLine(data) {
    const rate = data.cache_hit_rate === null || data.cache_hit_rate === undefined ? "n/a"
      : Math.round(data.cache_hit_rate * 100) + "%";
    $("#live-status").textContent = "queued tasks " + data.queued_tasks + " · workers " + data.workers +
      " · pending deliveries " + data.pending_deliveries + " · active webhooks " + data.active_webhooks +
      " · cache hits " + rate;
  }

  function listen(delay) {
    const badge = $("#alerts-live");
    const again = () => setTimeout(() => listen(Math.min(delay * 2, 30000)), delay);
    C.socket("/api/v1/ws/alerts", {
      open(ws) {
        ws.send(JSON.stringify({type: "subscribe", channels: ["all"]}));
      },
      message(m) {
        if (m.type === "subscribed") {
          delay = 1000;  // connected again: the next outage starts its back-off afresh
          badge.textContent = "live";
          badge.className = "badge status-completed";
        } else if (m.type === "alert") {
          arrived(m.data).catch(C.report);
        } else if (m.type === "system_status") {
          statusLine(m.data);
        }
      },
      close(code) {
        const over = code === 4401;  // the session ended: the login form is up
        badge.textContent = over ? "signed out" : "reconnecting…";
        badge.className = "badge status-" + (over ? "failed" : "queued");
        if (!over) again();
      },
    }).catch((error) => {  // no token could be had right now (no network, a rate limit): try later
      C.report(error);
      if (!(error instanceof C.ApiError && error.status === 401)) again();
    });
  }

  C.page(async () => {
    $("#alert-filter").addEventListener("change", () => loadAlerts().catch(C.report));
    listen(1000);
    C.every(30000, loadAlerts);
  });
})();
