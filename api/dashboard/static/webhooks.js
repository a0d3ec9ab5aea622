/* Webhooks: the endpoints, one endpoint's deliveries with every attempt, redeliver and send a test. */
"use strict";

(function () {
  const C = window.Conveyor;
  const {$, el} = C;
  let selected = null;  // the webhook whose deliveries are shown

  async function act(path, done) {
    try {
      await C.api(path, {method: "POST"});
      C.flash(done, "ok");
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

  function deliveryRow(delivery) {
    return el("tr", {class: "delivery", dataset: {deliveryId: delivery.id}},
      el("td", {}, el("div", {text: delivery.event_type}), el("small", {class: "hint", text: delivery.event_id})),
      el("td", {}, el("span", {class: "delivery-status badge status-" + delivery.status, text: delivery.status})),
      el("td", {}, el("ol", {class: "attempts"}, delivery.attempts.map(attemptItem))),
      el("td", {class: "wide", text: C.when(delivery.next_attempt_at)}),
      el("td", {}, C.can("webhook:manage") ? el("button", {
        type: "button", class: "redeliver", text: "Redeliver",
        onclick: () => act("/api/v1/deliveries/" + delivery.id + "/redeliver",
                           "Redelivery queued for delivery " + delivery.id + "."),
      }) : null));
  }

  async function loadDeliveries() {
    if (!selected) return;
    const status = $("#delivery-filter select[name=status]").value;
    const query = "?limit=50" + (status ? "&status=" + encodeURIComponent(status) : "");
    const hook = selected;
    const page = await C.api("/api/v1/webhooks/" + hook.id + "/deliveries" + query);
    if (hook !== selected) return;
    $("#deliveries tbody").replaceChildren(...page.items.map(deliveryRow));
    $("#no-deliveries").hidden = page.items.length > 0;
  }

  function select(hook) {
    selected = hook;
    $("#deliveries-of").textContent = hook.name;
    $("#deliveries-card").hidden = false;
    history.replaceState(null, "", "#webhook-" + hook.id);
    loadDeliveries().catch(C.report);
  }

  C.page(async () => {
    $("#delivery-filter").addEventListener("change", () => loadDeliveries().catch(C.report));
    await loadWebhooks();
    const wanted = /^#webhook-(\d+)$/.exec(location.hash);
    const row = wanted && $('tr.webhook[data-webhook-id="' + wanted[1] + '"] button.show-deliveries');
    if (row) row.click();
    setInterval(() => loadWebhooks().catch(C.report), 15000);
    C.every(3000, loadDeliveries);
  });
})();
