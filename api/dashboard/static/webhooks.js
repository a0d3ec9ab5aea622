/* Webhooks: the endpoints, one endpoint's deliveries with every attempt, redeliver and send a test. */
"use strict";

(function () {
  const C = window.Conveyor;
  const {$, el} = C;
  const SETTLED = ["succeeded", "failed", "dead"];  // what the API redelivers; the others are in flight
  let selected = null;  // the webhook whose deliveries are shown
  let busyUntil = 0;    // re-read deliveries every 3 s until then (something is in flight), else every 15 s
  let lastRead = 0;

  async function act(path, done) {
    try {
      await C.api(path, {method: "POST"});
      C.flash(done, "ok");
      busyUntil = Date.now() + 60000;
      await loadDeliveries();
    } catch (error) {
      C.report(error);
    }
  }

  function webhookRow(hook) {
    const state = hook.is_active ? "active" : "disabled";
    return el("tr", {class: "webhook", dataset: {webhookId: hook.id}},
      el("td", {text: hook.name}),
      el("td", {class: "wide url", text: hook.url}),
      el("td", {}, el("span", {class: "badge status-" + state, text: state})),
      el("td", {class: "wide", text: hook.failure_count}),
      el("td", {class: "wide", text: C.when(hook.last_used_at) || "never"}),
      el("td", {class: "actions"},
        el("button", {type: "button", class: "show-deliveries", text: "Deliveries",
                      onclick: () => select(hook)}),
        C.can("webhook:manage") && hook.is_active ? el("button", {
          type: "button", class: "send-test secondary", text: "Send test",
          onclick: () => {
            select(hook);
            act("/api/v1/webhooks/" + hook.id + "/test", "Test event queued for " + hook.name + ".");
          },
        }) : null));
  }

  async function loadWebhooks() {
    const page = await C.api("/api/v1/webhooks?limit=100");
    $("#webhooks tbody").replaceChildren(...page.items.map(webhookRow));
    $("#no-webhooks").hidden = page.items.length > 0;
  }

  function attemptItem(attempt) {
    const outcome = attempt.status_code ? "HTTP " + attempt.status_code : attempt.error || "no answer";
    return el("li", {title: attempt.response_excerpt || attempt.error || ""},
      C.when(attempt.at) + " · " + outcome + (attempt.duration_ms !== null ? " · " + attempt.duration_ms + " ms" : ""));
  }

  function deliveryRow(delivery, hook) {
    return el("tr", {class: "delivery", dataset: {deliveryId: delivery.id}},
      el("td", {}, el("div", {text: delivery.event_type}), el("small", {class: "hint", text: delivery.event_id})),
      el("td", {}, el("span", {class: "delivery-status badge status-" + delivery.status, text: delivery.status})),
      el("td", {}, el("ol", {class: "attempts"}, delivery.attempts.map(attemptItem))),
      el("td", {class: "wide", text: C.when(delivery.next_attempt_at)}),
      el("td", {}, C.can("webhook:manage") && hook.is_active && SETTLED.includes(delivery.status) ? el("button", {
        type: "button", class: "redeliver", text: "Redeliver",
        onclick: () => act("/api/v1/deliveries/" + delivery.id + "/redeliver",
                           "Redelivery queued for delivery " + delivery.id + "."),
      }) : null));
  }

  function deliveriesQuery() {
    const status = $("#delivery-filter select[name=status]").value;
    return "/api/v1/webhooks/" + selected.id + "/deliveries?limit=50" +
      (status ? "&status=" + encodeURIComponent(status) : "");
  }

  async function loadDeliveries() {
    if (!selected) return;
    const hook = selected;
    const query = deliveriesQuery();
    let page;
    try {
      page = await C.api(query);
    } catch (error) {
      if (error.status !== 404) throw error;
      selected = null;  // deleted meanwhile
      $("#deliveries-card").hidden = true;
      C.flash("Webhook " + hook.name + " is gone.", "info");
      return;
    }
    if (hook !== selected || query !== deliveriesQuery()) return;  // a newer choice is on its way
    lastRead = Date.now();
    if (page.items.some((d) => !SETTLED.includes(d.status))) busyUntil = Date.now() + 60000;
    $("#deliveries tbody").replaceChildren(...page.items.map((d) => deliveryRow(d, hook)));
    $("#no-deliveries").hidden = page.items.length > 0;
  }

  function pollDeliveries() {
    const due = Date.now() < busyUntil ? 3000 : 15000;
    return Date.now() - lastRead >= due - 100 ? loadDeliveries() : null;
  }

  function select(hook) {
    selected = hook;
    $("#deliveries-of").textContent = hook.name;
    $("#deliveries-card").hidden = false;
    history.replaceState(null, "", "#webhook-" + hook.id);
    loadDeliveries().catch(C.report);
  }

  C.page(async (me) => {
    if (!C.can("webhook:manage")) {  // the API keeps webhooks to the roles that manage them
      $("#no-webhooks").textContent = "Your role (" + me.role + ") does not manage webhooks.";
      $("#no-webhooks").hidden = false;
      return;
    }
    $("#delivery-filter").addEventListener("change", () => loadDeliveries().catch(C.report));
    await loadWebhooks();
    const wanted = /^#webhook-(\d+)$/.exec(location.hash);
    const row = wanted && $('tr.webhook[data-webhook-id="' + wanted[1] + '"] button.show-deliveries');
    if (row) row.click();
    setInterval(() => loadWebhooks().catch(C.report), 15000);
    C.every(3000, pollDeliveries);
  });
})();
