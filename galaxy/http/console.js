"use strict";
const REFRESH_MS = 2000;

function text(tag, value, cls) {
  const el = document.createElement(tag);
  el.textContent = value;
  if (cls) el.className = cls;
  return el;
}

function counts(id, values) {
  const list = document.getElementById(id);
  list.replaceChildren();
  const entries = Object.entries(values);
  if (!entries.length) { list.append(text("dt", "none"), text("dd", "")); }
  for (const [key, value] of entries) { list.append(text("dt", key), text("dd", String(value))); }
}

function node(actor) {
  const item = document.createElement("li");
  const line = text("div", "", "node");
  line.dataset.path = actor.path;
  line.append(text("span", actor.name, "name"), text("span", actor.status, "status " + actor.status));
  const box = actor.mailbox_capacity === null ? "" :
    `mailbox ${actor.mailbox_depth}/${actor.mailbox_capacity}`;
  line.append(text("span", `${actor.kind} ${box} restarts ${actor.restarts}`, "meta"));
  if (actor.last_error) line.append(text("span", actor.last_error, "error"));
  item.append(line);
  if (actor.children.length) {
    const children = document.createElement("ul");
    for (const child of actor.children) children.append(node(child));
    item.append(children);
  }
  return item;
}

async function refresh() {
  try {
    const [tree, summary] = await Promise.all([
      fetch("/api/v1/admin/actors").then(r => { if (!r.ok) throw new Error(r.status); return r.json(); }),
      fetch("/api/v1/admin/console/summary").then(r => { if (!r.ok) throw new Error(r.status); return r.json(); }),
    ]);
    const list = document.createElement("ul");
    if (tree.root) list.append(node(tree.root));
    document.getElementById("tree").replaceChildren(list);
    counts("actors", summary.actors);
    counts("outbox", summary.outbox);
    counts("runtimes", summary.runtimes);
    counts("games", summary.games);
    const updated = document.getElementById("updated");
    updated.dataset.refreshes = String(Number(updated.dataset.refreshes) + 1);
    updated.textContent = `${tree.count} actors · updated ${new Date().toLocaleTimeString()}`;
    document.getElementById("problem").textContent = "";
  } catch (error) {
    document.getElementById("problem").textContent = `refresh failed: ${error}`;
  }
}

refresh();
setInterval(refresh, REFRESH_MS);
