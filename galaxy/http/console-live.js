"use strict";
// What refreshes itself: the summary cards (every page), the actor tree and the
// charts of the last hour (inline SVG built with DOM calls: no library, no CDN).
(function () {
  const { el, A } = GC;
  const SVG = "http://www.w3.org/2000/svg";
  const svg = (tag, attrs) => {
    const node = document.createElementNS(SVG, tag);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
    return node;
  };

  // The summary cards above every page.
  function counts(id, values) {
    const list = document.getElementById(id);
    const entries = Object.entries(values);
    const items = entries.length ? entries.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, String(v))])
      : [el("dt", {}, "none"), el("dd", {}, "")];
    list.replaceChildren(...items);
  }
  GC.refreshSummary = async function () {
    const answer = await GC.get(`${A}/console/summary`);
    if (!answer.ok) {
      document.getElementById("problem").textContent = `refresh failed: ${GC.describeError(answer)}`;
      return;
    }
    for (const id of ["actors", "outbox", "runtimes", "games"]) counts(id, answer.data[id]);
    const updated = document.getElementById("updated");
    updated.dataset.refreshes = String(Number(updated.dataset.refreshes) + 1);
    updated.textContent = `${answer.data.actors.total} actors · updated ${new Date().toLocaleTimeString()}`;
    document.getElementById("problem").textContent = "";
  };

  // --- The actor tree -------------------------------------------------------
  let selected = null; // the path whose details are open
  let lastTree = null;

  // Something an operator should look at: not running, an error, recent
  // restarts, a mailbox half full, or messages overflowing or dropped.
  GC.unhealthy = wrong; // for the browser test, which asks it about real snapshots
  function wrong(actor) {
    // A mailbox of one holding its one wake-up is normal; a larger one half full is not.
    const full = actor.mailbox_capacity > 1 && actor.mailbox_depth / actor.mailbox_capacity >= 0.5;
    return actor.status !== "running" || Boolean(actor.last_error) || actor.recent_restarts.length > 0
      || full || actor.dropped > 0;
  }

  function node(actor) {
    const box = actor.mailbox_capacity === null ? "" : `mailbox ${actor.mailbox_depth}/${actor.mailbox_capacity}`;
    const line = el("div", {
      class: "node" + (wrong(actor) ? " unhealthy" : "") + (actor.path === selected ? " selected" : ""),
      data: { path: actor.path }, tabindex: "0",
      on: { click: () => { selected = actor.path; drawTree(); } },
    },
    el("span", { class: "name" }, actor.name),
    el("span", { class: "status " + actor.status }, actor.status),
    el("span", { class: "meta" }, `${actor.kind} ${box} restarts ${actor.restarts} deferred ticks ${actor.ticks_deferred}`),
    actor.last_error ? el("span", { class: "error" }, actor.last_error) : null);
    const children = actor.children.length ? el("ul", {}, actor.children.map(node)) : null;
    return el("li", {}, line, children);
  }

  function find(actor, path) {
    if (actor.path === path) return actor;
    for (const child of actor.children) {
      const found = find(child, path);
      if (found) return found;
    }
    return null;
  }

  function details(actor) {
    if (!actor) return el("p", { class: "empty" }, "click an actor to see its details");
    const { children, details: own, recent_restarts: restarts, ...plain } = actor;
    return el("div", {},
      el("h3", {}, actor.path),
      GC.record(plain),
      el("h3", {}, "Recent restarts"),
      GC.table(restarts, [["at", "at", (r) => GC.when(r.at)], ["reason", "reason"]], "none"),
      el("h3", {}, "Details"),
      GC.record(own || {}));
  }

  function drawTree() {
    const tree = document.getElementById("tree");
    if (!tree || !lastTree) return;
    tree.replaceChildren(el("ul", {}, lastTree.root ? node(lastTree.root) : null));
    tree.dataset.refreshes = String(Number(tree.dataset.refreshes || 0) + 1);
    document.getElementById("actor-details")
      .replaceChildren(details(selected && lastTree.root ? find(lastTree.root, selected) : null));
  }

  async function refreshTree() {
    if (!document.getElementById("tree")) return; // another page is shown
    const answer = await GC.get(`${A}/actors`);
    if (!answer.ok) {
      document.getElementById("problem").textContent = `tree refresh failed: ${GC.describeError(answer)}`;
      return;
    }
    lastTree = answer.data;
    drawTree();
  }

  // Every instance on the database: this one's tree is drawn below, the others' games counted.
  function instances(cluster) {
    if (!cluster.ok) return el("p", { class: "error" }, GC.describeError(cluster));
    return GC.table(cluster.data.instances, [
      ["instance_id", "instance", (i) => i.this_instance ? `${i.instance_id} (this one)` : i.instance_id],
      ["address", "address"], ["version", "version"],
      ["started_at", "started", (i) => GC.when(i.started_at)],
      ["heartbeat_at", "heartbeat", (i) => GC.when(i.heartbeat_at)],
      ["games", "games owned", (i) => String(i.games.length)],
    ], "no instance registered");
  }

  GC.views.actors = async function () {
    const [answer, cluster] = await Promise.all([GC.get(`${A}/actors`), GC.get(`${A}/cluster`)]);
    if (answer.ok) lastTree = answer.data;
    const tree = el("div", { id: "tree", data: { refreshes: 0 } });
    const side = el("aside", { id: "actor-details" });
    // Drawn once the nodes are in the page (the router puts them there).
    setTimeout(drawTree, 0);
    return [GC.section("Instances", el("div", { id: "instances" }, instances(cluster))),
      el("h2", {}, `Actors (${answer.ok ? answer.data.count : "?"})`),
      answer.ok ? null : el("p", { class: "error" }, GC.describeError(answer)),
      el("div", { class: "split" }, tree, side)];
  };

  // --- Charts ---------------------------------------------------------------
  const WIDTH = 360, HEIGHT = 120, PAD = 28;
  const round = (value) => Math.round(value * 100) / 100;

  // One chart: a line per label of the series that share a name.
  function chart(name, all) {
    // A point without a value (no request, no turn in that interval) draws nothing.
    const series = all.map((s) => ({ ...s, points: s.points.filter((p) => typeof p[1] === "number") }));
    const points = series.flatMap((s) => s.points);
    const xs = points.map((p) => p[0]), ys = points.map((p) => p[1]);
    const x0 = Math.min(...xs), x1 = Math.max(...xs, x0 + 1);
    const top = Math.max(...ys, 0) || 1;
    const sx = (x) => PAD + ((x - x0) / (x1 - x0)) * (WIDTH - PAD - 4);
    const sy = (y) => HEIGHT - 16 - (y / top) * (HEIGHT - 24);
    const picture = svg("svg", { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, width: WIDTH, height: HEIGHT, class: "chart", role: "img" });
    picture.append(svg("line", { x1: PAD, y1: HEIGHT - 16, x2: WIDTH - 4, y2: HEIGHT - 16, class: "axis" }));
    const label = (x, y, value, anchor) => {
      const t = svg("text", { x, y, "text-anchor": anchor || "start", class: "tick" });
      t.textContent = value;
      return t;
    };
    picture.append(label(PAD - 3, 12, String(round(top)), "end"), label(PAD - 3, HEIGHT - 16, "0", "end"));
    if (points.length) {
      picture.append(label(PAD, HEIGHT - 3, new Date(x0 * 1000).toLocaleTimeString()),
        label(WIDTH - 4, HEIGHT - 3, new Date(x1 * 1000).toLocaleTimeString(), "end"));
    }
    series.forEach((s, index) => {
      if (!s.points.length) return;
      const line = s.points.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(" ");
      picture.append(svg("polyline", { points: line, class: `line c${index % 6}`, "data-label": s.label }));
    });
    const legend = el("div", { class: "legend" }, series.map((s, index) =>
      el("span", { class: `key c${index % 6}` }, `${s.label || name} (${s.points.length ? round(s.points[s.points.length - 1][1]) : "—"})`)));
    const unit = series.length ? series[0].unit : "";
    return el("figure", { class: "chart-box", data: { series: name } },
      el("figcaption", {}, `${name} (${unit})`), picture, legend);
  }

  GC.views.charts = async function () {
    const answer = await GC.get(`${A}/console/history`);
    if (!answer.ok) return [el("h2", {}, "Charts"), el("p", { class: "error" }, GC.describeError(answer))];
    const byName = new Map();
    for (const s of answer.data.series) {
      if (!byName.has(s.name)) byName.set(s.name, []);
      byName.get(s.name).push(s);
    }
    return [
      el("h2", {}, `The last hour (every ${answer.data.interval_seconds} s, as of ${GC.when(answer.data.now)})`),
      el("div", { class: "charts", id: "charts" }, [...byName].map(([name, series]) => chart(name, series))),
    ];
  };

  // Every 2 s: the cards, and the tree when it is shown; the charts every 10 s.
  GC.startRefreshing = function () {
    GC.refreshSummary();
    setInterval(() => { GC.refreshSummary(); refreshTree(); }, 2000);
    setInterval(() => { if (GC.current.name === "charts") GC.redraw(); }, 10000);
  };
})();
