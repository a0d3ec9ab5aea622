/* Engineering: an organization's (or a team's) DORA figures and cycle time, from GET /api/v1/analytics/dora-metrics
   and /api/v1/analytics/cycle-time, with the stages' breakdown and the weekly series drawn as SVG bars; and a
   team's velocity (/api/v1/analytics/velocity), planned against completed points per sprint. */
"use strict";

(function () {
  const C = window.Conveyor;
  const {$, el} = C;
  const STAGES = ["coding", "pickup", "review", "deployment"];  // one after the other: first commit to production
  const BREAKDOWN_WIDTH = 500;  // the breakdown's viewBox: narrower than the series', so its labels read larger

  function hours(value) {
    return value === null || value === undefined ? "—" : Number(value.toPrecision(3)) + " h";
  }

  function pairs(selector, entries) {
    $(selector + " dl").replaceChildren(...entries.map(([k, v]) => [el("dt", {text: k}), el("dd", {text: v})]).flat());
  }

  function scope() {
    const form = $("#engineering-form");
    const end = new Date(), start = new Date(end.getTime() - Number(form.range.value) * 86400000);
    const query = {start_date: start.toISOString().slice(0, 10), end_date: end.toISOString().slice(0, 10)};
    if (form.team.value) query.team_id = form.team.value;
    else query.organization_id = form.organization.value;
    return query;
  }

  function drawBreakdown(breakdown) {
    const svg = $("#cycle-breakdown");
    const parts = STAGES.map((stage) => [stage, breakdown[stage + "_hours"] || 0]);
    const total = parts.reduce((sum, [, value]) => sum + value, 0);
    if (!total) {
      svg.replaceChildren(el("text", {x: BREAKDOWN_WIDTH / 2, y: 60, "text-anchor": "middle", class: "empty",
                                       text: "no data"}));
      return;
    }
    let x = 0;
    const bars = parts.filter(([, value]) => value > 0).map(([stage, value], i) => {
      const width = value / total * BREAKDOWN_WIDTH;
      const bar = el("g", {class: "stage stage-" + stage},
        el("rect", {x: x.toFixed(1), y: 10, width: width.toFixed(1), height: 60},
           el("title", {text: stage + ": " + hours(value)})),
        el("text", {x: (x + 4).toFixed(1), y: 95 + (i % 2) * 18, text: stage + " " + hours(value)}));
      x += width;
      return bar;
    });
    svg.replaceChildren(...bars);
  }

  function drawSeries(series) {
    const svg = $("#cycle-series");
    const top = Math.max(0, ...series.map((p) => p.total_cycle_time_hours || 0));
    if (!top) {
      svg.replaceChildren(el("text", {x: 400, y: 120, "text-anchor": "middle", class: "empty", text: "no data"}));
      $("#series-caption").textContent = "No pull request merged in this range.";
      return;
    }
    const width = 800 / series.length;
    svg.replaceChildren(...series.map((p, i) => {
      const height = (p.total_cycle_time_hours || 0) / top * 190;
      return el("g", {class: "week"},
        el("rect", {x: (i * width + 2).toFixed(1), y: (200 - height).toFixed(1), width: (width - 4).toFixed(1),
                    height: height.toFixed(1)},
           el("title", {text: p.period_start.slice(0, 10) + ": " + hours(p.total_cycle_time_hours) + " mean, " +
                              p.pull_requests + " pull requests"})),
        el("text", {x: (i * width + width / 2).toFixed(1), y: 230, "text-anchor": "middle",
                    text: p.period_start.slice(5, 10)}));
    }));
    $("#series-caption").textContent = "Mean cycle time of the pull requests merged each week (highest " +
      hours(top) + ").";
  }

  function drawVelocity(answer) {
    const svg = $("#velocity-sprints");
    const top = Math.max(0, ...answer.sprints.map((s) => Math.max(s.planned_points, s.completed_points)));
    if (!answer.sprints.length) {
      svg.replaceChildren(el("text", {x: 400, y: 120, "text-anchor": "middle", class: "empty", text: "no sprints"}));
      $("#velocity-caption").textContent = "No sprint yet: give the team's repositories dated milestones, or " +
        "create sprints with POST /api/v1/teams/{id}/sprints.";
      return;
    }
    const width = 800 / Math.max(answer.sprints.length, 6), scale = top ? 190 / top : 0;  // six slots at least
    svg.replaceChildren(...answer.sprints.map((s, i) => {
      const x = i * width, bar = (width - 12) / 2;
      const rect = (kind, value, offset) => el("rect", {class: kind, x: (x + offset).toFixed(1),
        y: (200 - value * scale).toFixed(1), width: bar.toFixed(1), height: (value * scale).toFixed(1)},
        el("title", {text: s.name + ": " + value + " points " + kind}));
      return el("g", {class: "sprint"}, rect("planned", s.planned_points, 4), rect("completed", s.completed_points,
        8 + bar), el("text", {x: (x + width / 2).toFixed(1), y: 230, "text-anchor": "middle",
                              text: s.name + " (" + s.completed_points + "/" + s.planned_points + ")"}));
    }));
    $("#velocity-caption").textContent = "Points planned (light) and completed (dark) per sprint, oldest first.";
  }

  async function loadVelocity(team) {
    if (!team) {
      pairs("#velocity", []);
      $("#velocity-sprints").replaceChildren();
      $("#velocity-caption").textContent = "Pick a team: its last six sprints, points planned (light) and " +
        "completed (dark).";
      return;
    }
    const answer = await C.api("/api/v1/analytics/velocity?sprint_count=6&team_id=" + team);
    pairs("#velocity", [["average velocity", answer.average_velocity + " points (ended sprints)"],
                        ["trend", answer.trend.replace("_", " ")]]);
    drawVelocity(answer);
  }

  async function loadFigures() {
    const form = $("#engineering-form");
    if (!form.organization.value) return;
    const query = new URLSearchParams(scope());
    const [dora, cycle] = await Promise.all([
      C.api("/api/v1/analytics/dora-metrics?" + query + "&granularity=weekly"),
      C.api("/api/v1/analytics/cycle-time?" + query + "&granularity=weekly")]);
    pairs("#dora", [
      ["deployments", dora.deployment_frequency.value + " " + dora.deployment_frequency.unit.replace("_", " ") +
                      " (" + dora.deployment_frequency.deployments + ")"],
      ["lead time for changes", hours(dora.lead_time_for_changes.median_hours) + " median, " +
                                hours(dora.lead_time_for_changes.p90_hours) + " p90"],
      ["change failure rate", dora.change_failure_rate.percentage === null ? "—"
                              : dora.change_failure_rate.percentage + " %"],
      ["time to restore", hours(dora.time_to_restore.median_hours) + " median"]]);
    pairs("#cycle", [
      ["pull requests merged", String(cycle.pull_requests) + " (" + cycle.deployed + " deployed)"],
      ["mean cycle time", hours(cycle.total_cycle_time_hours) +
                          (cycle.trend === "no_data" ? "" : ", " + cycle.trend + " on the range before")],
      ["p50 / p75 / p90", [cycle.percentiles.p50, cycle.percentiles.p75, cycle.percentiles.p90].map(hours).join(" / ")],
      ["testing (during review)", hours(cycle.breakdown.testing_hours)]]);
    drawBreakdown(cycle.breakdown);
    drawSeries(cycle.series);
    await loadVelocity(form.team.value);
  }

  async function loadTeams() {
    const organization = $("#engineering-form").organization.value;
    const answer = organization ? await C.api("/api/v1/teams?limit=100&organization_id=" + organization)
                                : {items: []};
    $("#engineering-team").replaceChildren(el("option", {value: "", text: "All teams"}),
      ...answer.items.map((team) => el("option", {value: String(team.id), text: team.name})));
  }

  async function loadOrganizations() {
    const answer = await C.api("/api/v1/organizations?limit=100");
    $("#engineering-organization").replaceChildren(...answer.items.map((org) =>
      el("option", {value: String(org.id), text: org.name})));
    $("#no-organizations").hidden = answer.items.length > 0;
    return answer.items.length > 0;
  }

  C.page(async () => {
    $("#engineering-organization").addEventListener("change", () =>
      loadTeams().then(loadFigures).catch(C.report));
    $("#engineering-team").addEventListener("change", () => loadFigures().catch(C.report));
    $("#engineering-range").addEventListener("change", () => loadFigures().catch(C.report));
    if (await loadOrganizations()) {
      await loadTeams();
      await loadFigures();
    }
  });
})();
