"use strict";
// The console's core: DOM building, the API helper, the router, the confirmation
// dialog and the result line. The area files (console-games.js, …) add their views
// to `GC.views`; console-start.js starts it all. No data is ever parsed as HTML:
// every text goes in through textContent (the `el` helper below), so a player's
// name or an engine's error shows as the characters it is.
const GC = (window.GalaxyConsole = { views: {} });

// el("a", {href: "#/x", class: "c", data: {id: 1}, on: {click: f}}, "text", child…)
GC.el = function (tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "data") for (const [k, v] of Object.entries(value)) node.dataset[k] = String(v);
    else if (key === "on") for (const [k, v] of Object.entries(value)) node.addEventListener(k, v);
    else if (key === "value") node.value = value;
    else if (key === "checked") node.checked = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
};
const el = GC.el;

// A value as the tables show it: null as a dash, objects as compact JSON text.
GC.show = function (value) {
  if (value === null || value === undefined || value === "") return "—";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
};

// One API call. Never throws for an HTTP answer: {ok, status, data} with the JSON
// body (or null); a network failure is status 0 with an error of our own.
GC.api = async function (method, path, body) {
  const init = { method, headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  try {
    const response = await fetch(path, init);
    let data = null;
    if ((response.headers.get("Content-Type") || "").includes("json")) data = await response.json();
    return { ok: response.ok, status: response.status, data };
  } catch (error) {
    return { ok: false, status: 0, data: { error: { code: "network", message: String(error) } } };
  }
};
GC.get = (path) => GC.api("GET", path);
GC.A = "/api/v1/admin";

// The API's error as one line: "409 invalid_transition: the game is not running".
GC.describeError = function (answer) {
  const error = (answer.data && answer.data.error) || {};
  return `${answer.status} ${error.code || "error"}: ${error.message || "no message"}`;
};

// The role decides whether actions are built at all (the API refuses a viewer anyway).
GC.role = "unknown";
GC.canAct = () => GC.role === "operator";

// The result line under the header: what the last action did. `data-seq` counts
// results, so a test (or an operator) can tell a new answer from an old one.
GC.report = function (outcome, textValue) {
  const line = document.getElementById("result");
  line.dataset.seq = String(Number(line.dataset.seq) + 1);
  line.dataset.outcome = outcome;
  line.textContent = textValue;
};

// The confirmation dialog: names what is about to happen, offers the reason that
// is recorded with it; resolves to the reason, or null when cancelled.
GC.confirm = function (question) {
  const dialog = document.getElementById("confirm");
  document.getElementById("confirm-text").textContent = question;
  return new Promise((resolve) => {
    const ok = document.getElementById("confirm-ok");
    const cancel = document.getElementById("confirm-cancel");
    const finish = (value) => {
      ok.removeEventListener("click", onOk);
      cancel.removeEventListener("click", onCancel);
      dialog.removeEventListener("cancel", onCancel);
      dialog.close();
      resolve(value);
    };
    const onOk = () => finish(document.getElementById("confirm-reason").value.trim());
    const onCancel = () => finish(null);
    ok.addEventListener("click", onOk);
    cancel.addEventListener("click", onCancel);
    dialog.addEventListener("cancel", onCancel); // Escape
    dialog.showModal();
  });
};

// An action: confirm (naming the target), call the API, say what happened, redraw.
// `body(reason)` builds the request body from the confirmed reason; `summary(data)`
// says in a few words what the answer shows.
GC.act = async function ({ label, question, method = "POST", path, body, summary }) {
  const reason = await GC.confirm(question);
  if (reason === null) {
    GC.report("cancelled", `${label}: cancelled`);
    return;
  }
  const answer = await GC.api(method, path, body ? body(reason) : undefined);
  if (answer.ok) {
    GC.report("ok", `${label}: done${summary ? " — " + summary(answer.data) : ""}`);
  } else {
    GC.report("error", `${label}: failed — ${GC.describeError(answer)}`);
  }
  await GC.redraw();
};

// An action button, or nothing at all for a viewer.
GC.button = function (textValue, onClick, cls) {
  if (!GC.canAct()) return null;
  return el("button", { type: "button", class: "act " + (cls || ""), on: { click: onClick } }, textValue);
};

// A table of rows; columns are [key, heading] or [key, heading, render(row) → node|text].
GC.table = function (rows, columns, empty) {
  if (!rows || !rows.length) return el("p", { class: "empty" }, empty || "none");
  const head = el("tr", {}, columns.map(([, heading]) => el("th", {}, heading)));
  const body = rows.map((row) =>
    el("tr", {}, columns.map(([key, , render]) => el("td", { data: { key } }, render ? render(row) : GC.show(row[key])))),
  );
  return el("table", {}, el("thead", {}, head), el("tbody", {}, body));
};

// A record as a definition list; keys picks and orders the members shown.
GC.record = function (object, keys) {
  const list = el("dl", { class: "record" });
  for (const key of keys || Object.keys(object || {})) {
    list.append(el("dt", {}, key), el("dd", { data: { key } }, GC.show(object ? object[key] : null)));
  }
  return list;
};

GC.section = (title, ...children) => el("section", {}, el("h2", {}, title), ...children);
GC.field = (label, input) => el("label", { class: "field" }, label + " ", input);
GC.select = (id, options, chosen) =>
  el("select", { id }, options.map((o) => el("option", { value: o, selected: o === chosen }, o || "any")));
GC.input = (id, placeholder, value) => el("input", { id, type: "text", placeholder, value: value || "" });
GC.value = (id) => document.getElementById(id).value.trim();
GC.when = (iso) => (iso ? new Date(iso).toLocaleString() : "—");

// The router: "#/games/<id>" runs GC.views.games("<id>"). A view returns the nodes
// of the main area (it may await the API); an older view finishing late is dropped.
let generation = 0;
GC.current = { name: "", arg: "" };
GC.redraw = async function () {
  const mine = ++generation;
  const { name, arg } = GC.current;
  const view = Object.hasOwn(GC.views, name) ? GC.views[name] : GC.views.games;
  let nodes;
  try {
    nodes = await view(arg);
  } catch (error) {
    nodes = [el("p", { class: "error" }, `this page failed: ${error}`)];
  }
  if (mine !== generation) return;
  const main = document.getElementById("main");
  main.replaceChildren(...[nodes].flat().filter(Boolean));
  main.dataset.view = name;
  main.dataset.loaded = String(Number(main.dataset.loaded) + 1);
};
GC.route = function () {
  const [name, ...rest] = location.hash.replace(/^#\/?/, "").split("/");
  // Only the views' own names (not "constructor" and the like that every object has).
  GC.current = { name: Object.hasOwn(GC.views, name) ? name : "games", arg: decodeURIComponent(rest.join("/")) };
  for (const link of document.querySelectorAll("#nav a")) {
    link.classList.toggle("here", link.getAttribute("href") === "#/" + GC.current.name);
  }
  return GC.redraw();
};
