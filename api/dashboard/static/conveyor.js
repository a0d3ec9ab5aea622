/* Conveyor dashboard: what every page shares. Log in, call the JSON API with the token kept in
   sessionStorage (refreshed before it expires), open WebSockets, build DOM nodes, show messages.
   A page script calls Conveyor.page(start); start(me) runs once the user is known. */
"use strict";

(function () {
  const TOKEN = "token";
  const REFRESH = "refresh_token";
  const GITHUB_STATE = "github_state";
  const FINAL = ["completed", "failed", "cancelled"];
  let starter = null;
  let started = false;  // the page's start ran: a later login reloads instead of starting it twice
  let me = null;

  const $ = (selector, root) => (root || document).querySelector(selector);

  /* el("tr", {class: "x", dataset: {id: 1}, onclick: f}, child, "text", [more]) */
  function el(tag, attrs, ...children) {
    const svg = ["svg", "path", "circle", "line", "text", "g", "title", "polyline", "rect"].includes(tag);
    const node = svg ? document.createElementNS("http://www.w3.org/2000/svg", tag) : document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "text") node.textContent = value;
      else if (key === "dataset") Object.assign(node.dataset, value);
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat(Infinity)) {
      if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  function flash(message, kind) {
    const box = $("#flash");
    box.textContent = message || "";
    box.className = "flash " + (kind || "info");
    box.hidden = !message;
  }

  class ApiError extends Error {
    constructor(status, body) {
      super((body && body.error && body.error.message) || "The server answered " + status);
      this.status = status;
      this.body = body;
    }
  }

  function claims(token) {
    try {
      const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      return JSON.parse(atob(part));
    } catch (e) {
      return {};
    }
  }

  /* Within the last quarter of its life (30 s at most), a token is refreshed before use. */
  function expiresSoon() {
    const token = sessionStorage.getItem(TOKEN);
    if (!token) return true;
    const {exp = 0, iat = 0} = claims(token);
    return exp * 1000 - Date.now() < Math.min(30000, (exp - iat) * 250);
  }

  /* false: the session is over (no refresh token, or the server refused it). A rate limit, a server
     error or no network is thrown instead: the session may well be fine. */
  async function refresh() {
    const refreshToken = sessionStorage.getItem(REFRESH);
    if (!refreshToken) return false;
    const response = await fetch("/api/v1/auth/refresh", {
      method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({refresh_token: refreshToken}),
    });
    if (response.status === 401 || response.status === 422) return false;
    const data = await response.json().catch(() => null);
    if (!response.ok) throw new ApiError(response.status, data);
    sessionStorage.setItem(TOKEN, data.access_token);
    return true;
  }

  /* Refresh the access token before it runs out, so that requests do not meet a 401 on the way. */
  async function freshToken() {
    if (expiresSoon() && !(await refresh())) {
      signedOut("Your session has ended; please log in again.");
      throw new ApiError(401, null);
    }
    return sessionStorage.getItem(TOKEN);
  }

  async function api(path, options, retried) {
    const opts = options || {};
    const headers = {"Accept": "application/json", "Authorization": "Bearer " + (await freshToken())};
    let body;
    if (opts.json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(opts.json);
    }
    const response = await fetch(path, {method: opts.method || (body ? "POST" : "GET"), headers, body});
    const data = response.status === 204 ? null : await response.json().catch(() => null);
    if (response.status === 401) {
      // Revoked, or our clock ran ahead of the server's: one refresh and one retry, then the login form.
      if (!retried && await refresh().catch(() => false)) return api(path, options, true);
      signedOut("Your session has ended; please log in again.");
    }
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }

  /* A WebSocket on this origin, authenticated with ?token= (browsers cannot send headers on one).
     handlers: {message(msg), close(code)}. */
  async function socket(path, handlers) {
    const token = await freshToken();
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const glue = path.includes("?") ? "&" : "?";
    const ws = new WebSocket(scheme + location.host + path + glue + "token=" + encodeURIComponent(token));
    ws.addEventListener("message", (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch (e) {
        return;
      }
      if (handlers.message) handlers.message(message);
    });
    ws.addEventListener("close", (event) => handlers.close && handlers.close(event.code));
    if (handlers.open) ws.addEventListener("open", () => handlers.open(ws));
    return ws;
  }

  /* Run fn now and every `ms` while the page is visible, never two at once; errors go to the flash line. */
  function every(ms, fn) {
    let busy = false;
    let failed = null;  // the message this ticker put up, taken down when it works again
    const tick = async () => {
      if (busy || document.hidden || !sessionStorage.getItem(TOKEN)) return;
      busy = true;
      try {
        await fn();
        if (failed && $("#flash").textContent === failed) flash("");
        failed = null;
      } catch (error) {
        report(error);
        failed = $("#flash").textContent;
      } finally {
        busy = false;
      }
    };
    tick();
    return setInterval(tick, ms);
  }

  function report(error) {
    if (error instanceof ApiError && error.status === 401) return;  // the login form says it
    flash(error.message || String(error), "error");
  }

  function when(iso) {
    if (!iso) return "";
    const moment = new Date(iso);
    const sameDay = moment.toDateString() === new Date().toDateString();
    return sameDay ? moment.toLocaleTimeString() : moment.toLocaleString();
  }

  function seconds(value) {
    if (value === null || value === undefined) return "";
    return value < 60 ? value.toFixed(1) + " s" : Math.floor(value / 60) + " min " + Math.round(value % 60) + " s";
  }

  function showApp() {
    $("#login").hidden = true;
    $("#app").hidden = false;
    $("#who").hidden = false;
    $("#whoami").textContent = me.username + " (" + me.role + ")";
    if (starter && !started) {
      started = true;
      Promise.resolve(starter(me)).catch(report);
    }
  }

  function signedOut(message) {
    sessionStorage.removeItem(TOKEN);
    sessionStorage.removeItem(REFRESH);
    $("#app").hidden = true;
    $("#who").hidden = true;
    $("#login").hidden = false;
    if (message) $("#login-error").textContent = message;
  }

  async function login(event) {
    event.preventDefault();
    const form = event.target;
    const button = form.querySelector("button[type=submit]");
    $("#login-error").textContent = "";
    button.disabled = true;
    try {
      const response = await fetch("/api/v1/auth/login", {
        method: "POST", headers: {"Content-Type": "application/json"},
        body: JSON.stringify({username: form.username.value, password: form.password.value}),
      });
      const data = await response.json().catch(() => null);
      if (!response.ok) {
        $("#login-error").textContent = response.status === 401 ? "Wrong username or password."
          : (data && data.error && data.error.message) || "Login failed (" + response.status + ").";
        return;
      }
      sessionStorage.setItem(TOKEN, data.access_token);
      sessionStorage.setItem(REFRESH, data.refresh_token);
      form.password.value = "";
      if (started) {  // signed out mid-page: start afresh rather than on top of the old timers and sockets
        location.reload();
        return;
      }
      me = await api("/api/v1/users/me");
      showApp();
    } catch (error) {
      $("#login-error").textContent = error.message || "Login failed.";
    } finally {
      button.disabled = false;
    }
  }

  /* Sign in with GitHub: the API gives GitHub's authorization URL and the flow's state; GitHub sends the
     browser back here with ?code&state, which the callback turns into tokens (see finishGitHub). */
  async function startGitHub(event) {
    const button = event.target;
    button.disabled = true;
    $("#login-error").textContent = "";
    try {
      const uri = encodeURIComponent(button.dataset.redirectUri);
      const response = await fetch("/api/v1/auth/github?redirect_uri=" + uri,
                                   {headers: {"Accept": "application/json"}});
      const data = await response.json().catch(() => null);
      if (!response.ok) throw new ApiError(response.status, data);
      sessionStorage.setItem(GITHUB_STATE, data.state);
      location.assign(data.auth_url);
    } catch (error) {
      $("#login-error").textContent = error.message || "Could not reach GitHub sign-in.";
      button.disabled = false;
    }
  }

  /* Back from GitHub: the code and state leave the address bar at once (not kept in history or bookmarks),
     and the state must be the one this tab started. */
  async function finishGitHub(params) {
    history.replaceState(null, "", location.pathname);
    const expected = sessionStorage.getItem(GITHUB_STATE);
    sessionStorage.removeItem(GITHUB_STATE);
    if (!expected || expected !== params.get("state")) {
      signedOut("That GitHub sign-in was not started here; please try again.");
      return false;
    }
    const query = new URLSearchParams({code: params.get("code"), state: params.get("state")});
    const response = await fetch("/api/v1/auth/github/callback?" + query, {headers: {"Accept": "application/json"}});
    const data = await response.json().catch(() => null);
    if (!response.ok) {
      signedOut((data && data.error && data.error.message) || "GitHub sign-in failed (" + response.status + ").");
      return false;
    }
    sessionStorage.setItem(TOKEN, data.access_token);
    sessionStorage.setItem(REFRESH, data.refresh_token);
    return true;
  }

  async function logout() {
    try {
      await api("/api/v1/auth/logout", {method: "POST"});
    } catch (error) {
      // already over: nothing to revoke
    }
    signedOut("");
    location.reload();
  }

  function init() {
    $("#login-form").addEventListener("submit", login);
    $("#logout").addEventListener("click", logout);
    const github = $("#github-sign-in");
    if (github) github.addEventListener("click", startGitHub);
    boot();
  }

  async function boot() {
    const params = new URLSearchParams(location.search);
    if (params.has("code") && params.has("state") && !(await finishGitHub(params))) return;
    if (!sessionStorage.getItem(TOKEN)) {
      signedOut("");
      return;
    }
    try {
      me = await api("/api/v1/users/me");
      if ($("#flash").className.includes("error")) flash("");
      showApp();
    } catch (error) {
      if (error.status === 401) return;  // api() has shown the login form
      flash((error.message || String(error)) + " Trying again in 5 s.", "error");
      setTimeout(boot, 5000);  // a rate limit or an outage is not the end of the session
    }
  }

  function can(permission) {
    return !!me && (me.permissions.includes(permission) || me.permissions.includes("admin"));
  }

  window.Conveyor = {
    $, el, api, socket, every, flash, report, when, seconds, can, FINAL, ApiError,
    page(start) {
      starter = start;
    },
  };
  document.addEventListener("DOMContentLoaded", init);
})();
