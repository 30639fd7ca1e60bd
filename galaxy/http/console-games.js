"use strict";
// Games: the list with its filters, and a game's page with its members, runtime
// record, last probe, operation log, recent turns and the runbook's actions.
(function () {
  const { el, A } = GC;
  const STATUSES = ["", "draft", "enrollment_open", "ready_to_start", "starting", "running",
    "paused", "finished", "cancelled", "start_failed"];
  // The filters survive a redraw (an action, a refresh) but not a reload.
  const filters = { status: "", q: "", owner_instance: "" };

  GC.views.games = async function (gameId) {
    return gameId ? gamePage(gameId) : gameList();
  };

  async function gameList() {
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(filters)) if (value) query.set(key, value);
    const answer = await GC.get(`${A}/games?${query}`);
    const apply = () => {
      filters.status = GC.value("filter-status");
      filters.q = GC.value("filter-q");
      filters.owner_instance = GC.value("filter-owner");
      GC.redraw();
    };
    const bar = el("div", { class: "filters" },
      GC.field("status", GC.select("filter-status", STATUSES, filters.status)),
      GC.field("name", GC.input("filter-q", "part of the name", filters.q)),
      GC.field("owner instance", GC.input("filter-owner", "instance id", filters.owner_instance)),
      el("button", { type: "button", id: "filter-apply", on: { click: apply } }, "Filter"));
    if (!answer.ok) return [el("h2", {}, "Games"), bar, el("p", { class: "error" }, GC.describeError(answer))];
    const rows = answer.data.items;
    // A house game: owned by no player, open for enrollment at once.
    const create = () => {
      const name = GC.value("house-name");
      const schedule = GC.value("house-schedule");
      return GC.act({
        label: "create house game", question: `Create the house game “${name}”, open for enrollment?`,
        path: `${A}/games`, body: () => ({ name, ...(schedule ? { turn_schedule: schedule } : {}) }),
        summary: (g) => `“${g.name}” ${g.status}`,
      });
    };
    const house = GC.canAct() ? GC.section("Create a house game", el("div", { class: "form" },
      GC.field("name", GC.input("house-name", "name")),
      GC.field("turn schedule (empty: the default)", GC.input("house-schedule", "e.g. 24h")),
      GC.button("Create house game", create))) : null;
    const health = (g) => {
      const failures = g.probe_failures;
      if (failures === undefined || failures === null) return GC.show(g.runtime_status);
      const text = `${GC.show(g.runtime_status)} · probes failing ${failures}`;
      return el("span", { class: failures > 0 || g.last_error ? "bad" : "" }, text);
    };
    return [
      el("h2", {}, `Games (${answer.data.total})`),
      bar,
      GC.table(rows, [
        ["name", "name", (g) => el("a", { href: `#/games/${g.game_id}`, class: "game-link" }, g.name)],
        ["status", "status", (g) => el("span", { class: "pill " + g.status }, g.status)],
        ["turn", "turn", (g) => GC.show(g.turn ?? g.current_turn)],
        ["next_turn_at", "next turn", (g) => GC.when(g.next_turn_at)],
        ["engine", "engine health", health],
        ["driver", "driver"],
        ["owner_instance", "owner instance"],
        ["members", "members", (g) => GC.show(g.member_count ?? g.members)],
      ], "no games match"),
      house,
    ];
  }

  async function gamePage(gameId) {
    const [game, runtime, turns, versions] = await Promise.all([
      GC.get(`${A}/games/${encodeURIComponent(gameId)}`),
      GC.get(`${A}/runtimes/${encodeURIComponent(gameId)}`),
      GC.get(`${A}/games/${encodeURIComponent(gameId)}/turns?limit=20`),
      GC.get(`${A}/engine-versions`),
    ]);
    if (!game.ok) return [el("p", { class: "error" }, GC.describeError(game))];
    const g = game.data.game;
    const record = runtime.ok ? runtime.data.record : null;
    const parts = [
      el("p", {}, el("a", { href: "#/games" }, "← all games")),
      el("h2", { id: "game-title" }, `Game “${g.name}”`),
      el("p", { id: "game-status" }, el("span", { class: "pill " + g.status }, g.status),
        ` turn ${g.current_turn} · ${GC.show(g.status_reason)}`),
      actions(g, record, versions.ok ? versions.data.items : []),
      GC.section("Settings", GC.record(g, ["game_id", "owner_user_id", "visibility", "turn_schedule",
        "engine_version", "min_players", "max_players", "enrollment_deadline", "started_at", "finished_at",
        "winner_race"])),
      GC.section("Members and races", GC.table(game.data.memberships, [
        ["race_name", "race"],
        ["user_id", "player", (m) => el("a", { href: `#/players/${m.user_id}` }, m.user_id)],
        ["status", "status"],
        ["joined_at", "joined", (m) => GC.when(m.joined_at)],
        ["ban", "", (m) => m.status !== "active" ? "" : GC.button("Ban", () => GC.act({
          label: "ban member", question: `Ban ${m.race_name} (${m.user_id}) from game “${g.name}”?`,
          path: `${A}/games/${g.game_id}/ban-member`,
          body: (reason) => ({ user_id: m.user_id, reason: reason || "banned" }),
          summary: (data) => `${data.race_name} ${data.status}`,
        }), "danger")],
      ], "no members")),
    ];
    if (!runtime.ok) {
      parts.push(GC.section("Runtime", el("p", { class: "empty" }, GC.describeError(runtime))));
      return parts;
    }
    const probe = runtime.data.last_probe;
    parts.push(
      GC.section("Runtime record", GC.record(record, ["driver", "status", "engine_version", "image_ref",
        "container_id", "endpoint", "turn", "next_turn_at", "skip_next_turn", "probe_failures", "last_error",
        "started_at", "last_observed_at"])),
      GC.section("Last engine probe", probe === undefined
        ? el("p", { class: "empty" }, "not served by this backend")
        : probe === null ? el("p", { class: "empty" }, "no probe yet")
          : el("p", { id: "last-probe", class: probe.ok ? "" : "bad" },
            `${GC.when(probe.at)} · ${probe.ok ? "healthy" : "failed"} · ${GC.show(probe.detail)}`)),
      GC.section("Recent turns", turns.ok ? GC.table(turns.data.turns, [
        ["turn", "turn"],
        ["archived_at", "archived", (t) => GC.when(t.archived_at)],
        ["duration_ms", "duration (ms)"],
      ], "no turns yet") : el("p", { class: "empty" }, GC.describeError(turns))),
      GC.section("Operation log", GC.table(runtime.data.operations, [
        ["op", "operation"], ["status", "status"], ["detail", "detail"], ["error", "error"],
        ["started_at", "started", (o) => GC.when(o.started_at)],
        ["finished_at", "finished", (o) => GC.when(o.finished_at)],
      ], "no operations")),
    );
    return parts;
  }

  // The runbook's actions on this game, those its status allows; each confirms by name.
  function actions(g, record, versions) {
    if (!GC.canAct()) return null;
    const named = `game “${g.name}” (${g.game_id})`;
    const runtime = `${A}/runtimes/${g.game_id}`;
    const games = `${A}/games/${g.game_id}`;
    const withReason = (reason) => (reason ? { reason } : {});
    const gameSummary = (data) => `status ${data.status}`;
    const runtimeSummary = (data) => `${data.status}, turn ${data.turn}, engine ${data.engine_version}`;
    const go = (label, verb, path, options) => () =>
      GC.act({ label, question: `${verb} ${named}?`, path, ...options });
    const buttons = [];
    const add = (id, text, handler, cls) => buttons.push(el("button", { type: "button", id, class: "act " + (cls || ""), on: { click: handler } }, text));
    const status = g.status;
    if (status === "running") {
      add("act-pause", "Pause", go("pause", "Pause", `${games}/pause`, { body: withReason, summary: gameSummary }));
      add("act-force-turn", "Force a turn", go("force a turn", "Run a turn now in", `${runtime}/force-next-turn`, { summary: runtimeSummary }));
    }
    if (status === "paused") {
      add("act-resume", "Resume", go("resume", "Resume", `${games}/resume`, { body: withReason, summary: gameSummary }));
    }
    if (["running", "paused"].includes(status) && record) {
      add("act-restart", "Restart engine", go("restart", "Restart the engine of", `${runtime}/restart`, { summary: runtimeSummary }));
      const choices = versions.filter((v) => v.enabled).map((v) => v.version);
      buttons.push(el("span", { class: "inline" }, GC.select("patch-version", choices, record.engine_version)));
      add("act-patch", "Patch engine", () => {
        const version = GC.value("patch-version");
        return GC.act({ label: "patch", question: `Patch ${named} to engine ${version}?`,
          path: `${runtime}/patch`, body: () => ({ version }), summary: runtimeSummary });
      });
    }
    if (["enrollment_open", "ready_to_start", "start_failed"].includes(status)) {
      add("act-force-start", "Force-start", go("force-start", "Force-start", `${games}/force-start`, { body: withReason, summary: gameSummary }));
    }
    if (["starting", "running", "paused"].includes(status)) {
      add("act-force-stop", "Force-stop", go("force-stop", "Force-stop (end for good)", `${games}/force-stop`, { body: withReason, summary: gameSummary }), "danger");
    }
    return buttons.length ? el("div", { class: "actions", id: "game-actions" }, buttons) : null;
  }
})();
