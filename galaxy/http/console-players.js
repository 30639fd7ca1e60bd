"use strict";
// Players: find an account (id, user name or e-mail; lists never show the
// e-mail), and a player's page: sessions (revoke one or all), sanctions and
// limits (apply, lift), entitlement, games, history, soft delete.
(function () {
  const { el, A } = GC;
  const SANCTIONS = ["login_suspension", "lobby_ban", "diplomail_mute", "permanent_block"];
  const LIMITS = ["max_owned_games", "max_active_memberships", "max_pending_applications",
    "diplomail_daily_messages"];
  const TIERS = ["free", "supporter", "patron"];
  const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
  let search = "";

  GC.views.players = async function (userId) {
    return userId ? playerPage(userId) : playerList();
  };

  async function playerList() {
    const find = () => {
      search = GC.value("player-q");
      if (UUID.test(search)) location.hash = `#/players/${search}`; // an id: straight to the page
      else GC.redraw();
    };
    const bar = el("div", { class: "filters" },
      GC.field("id, user name or e-mail", GC.input("player-q", "user name, e-mail or id", search)),
      el("button", { type: "button", id: "player-find", on: { click: find } }, "Find"));
    // `q` matches an id, a user name prefix (any case) or an address (exact, normalised).
    const query = search ? `?q=${encodeURIComponent(search)}` : "";
    const answer = await GC.get(`${A}/users${query}`);
    if (!answer.ok) return [el("h2", {}, "Players"), bar, el("p", { class: "error" }, GC.describeError(answer))];
    return [
      el("h2", {}, `Players (${answer.data.total})`),
      bar,
      // Never the e-mail here: a list is what a screen share or a screenshot shows.
      GC.table(answer.data.items, [
        ["user_name", "user name", (u) => el("a", { href: `#/players/${u.user_id}`, class: "player-link" }, u.user_name)],
        ["display_name", "display name"],
        ["status", "status", (u) => el("span", { class: "pill " + u.status }, u.status)],
        ["created_at", "created", (u) => GC.when(u.created_at)],
        ["user_id", "id"],
      ], "no players match"),
    ];
  }

  async function playerPage(userId) {
    const answer = await GC.get(`${A}/users/${encodeURIComponent(userId)}`);
    if (!answer.ok) return [el("p", { class: "error" }, GC.describeError(answer))];
    const u = answer.data;
    const geo = await GC.get(`${A}/geo/users/${u.user_id}/countries`); // the geo signals
    const named = `player “${u.user_name}” (${u.user_id})`;
    const base = `${A}/users/${u.user_id}`;
    const accountSummary = (data) => `status ${data.status}`;
    const sessions = u.sessions || [];
    return [
      el("p", {}, el("a", { href: "#/players" }, "← find players")),
      el("h2", { id: "player-title" }, `Player “${u.user_name}”`),
      GC.record(u, ["user_id", "user_name", "display_name", "email", "status", "preferred_language",
        "time_zone", "declared_country", "created_at", "deleted_at"]),
      u.status !== "deleted" ? GC.button("Soft delete", () => GC.act({
        label: "soft delete", question: `Soft-delete ${named}? The account ends for good.`,
        path: `${base}/soft-delete`, body: (reason) => (reason ? { reason } : {}), summary: accountSummary,
      }), "danger") : null,
      GC.section("Sessions",
        GC.button("Revoke all sessions", () => GC.act({
          label: "revoke all sessions", question: `Revoke every session of ${named}?`,
          path: `${base}/sessions/revoke-all`, body: (reason) => (reason ? { reason } : {}),
        })),
        GC.table(sessions, [
          ["device_session_id", "session"],
          ["status", "status"],
          ["created_at", "created", (s) => GC.when(s.created_at)],
          ["last_seen_at", "last seen", (s) => GC.when(s.last_seen_at)],
          ["revoked_at", "revoked", (s) => GC.when(s.revoked_at)],
          ["revoke", "", (s) => s.status !== "active" ? "" : GC.button("Revoke", () => GC.act({
            label: "revoke session", question: `Revoke session ${s.device_session_id} of ${named}?`,
            path: `${base}/sessions/${s.device_session_id}/revoke`, body: (reason) => (reason ? { reason } : {}),
            summary: (data) => `session ${data.status}`,
          }))],
        ], "no sessions")),
      GC.section("Sanctions in force",
        GC.table(u.sanctions, [
          ["kind", "kind"], ["reason", "reason"],
          ["applied_at", "applied", (s) => GC.when(s.applied_at)],
          ["expires_at", "expires", (s) => GC.when(s.expires_at)],
          ["lift", "", (s) => GC.button("Lift", () => GC.act({
            label: "lift sanction", question: `Lift the ${s.kind} of ${named}?`,
            path: `${base}/sanctions`, body: (reason) => ({ kind: s.kind, reason: reason || "lifted", lift: true }),
            summary: (data) => `${data.sanctions.length} sanction(s) in force`,
          }))],
        ], "no sanctions in force"),
        GC.canAct() ? el("div", { class: "form" },
          GC.field("kind", GC.select("sanction-kind", SANCTIONS, "login_suspension")),
          GC.field("expires (empty: none)", el("input", { id: "sanction-expires", type: "datetime-local" })),
          GC.button("Apply sanction", () => {
            const kind = GC.value("sanction-kind");
            const local = GC.value("sanction-expires");
            return GC.act({
              label: "apply sanction", question: `Apply ${kind} to ${named}?`, path: `${base}/sanctions`,
              body: (reason) => ({ kind, reason: reason || "applied", expires_at: local ? new Date(local).toISOString() : null }),
              summary: (data) => `${data.sanctions.length} sanction(s) in force`,
            });
          })) : null),
      GC.section("Limits in force",
        GC.table(u.limits, [
          ["kind", "kind"], ["value", "value"],
          ["applied_at", "applied", (l) => GC.when(l.applied_at)],
          ["expires_at", "expires", (l) => GC.when(l.expires_at)],
          ["lift", "", (l) => GC.button("Lift", () => GC.act({
            label: "lift limit", question: `Lift the ${l.kind} override of ${named}?`,
            path: `${base}/limits`, body: (reason) => ({ kind: l.kind, value: null, reason: reason || "lifted" }),
            summary: (data) => `${data.limits.length} limit(s) in force`,
          }))],
        ], "no overrides: the platform's quotas apply"),
        GC.canAct() ? el("div", { class: "form" },
          GC.field("kind", GC.select("limit-kind", LIMITS, "max_owned_games")),
          GC.field("value", el("input", { id: "limit-value", type: "number", min: "0", value: "1" })),
          GC.button("Set limit", () => {
            const kind = GC.value("limit-kind");
            const value = Number(GC.value("limit-value"));
            return GC.act({
              label: "set limit", question: `Set ${kind} = ${value} for ${named}?`, path: `${base}/limits`,
              body: (reason) => ({ kind, value, reason: reason || "set" }),
              summary: (data) => `${data.limits.length} limit(s) in force`,
            });
          })) : null),
      GC.section("Entitlement",
        el("p", { id: "entitlement" }, `${u.entitlements.tier} · ${u.entitlements.max_registered_race_names} registered race names`),
        GC.canAct() ? el("div", { class: "form" },
          GC.field("tier", GC.select("entitlement-tier", TIERS, u.entitlements.tier)),
          GC.button("Set tier", () => {
            const tier = GC.value("entitlement-tier");
            return GC.act({
              label: "set tier", question: `Move ${named} to the ${tier} tier?`, path: `${base}/entitlements`,
              body: (reason) => ({ tier, reason: reason || null }),
              summary: (data) => `tier ${data.entitlements.tier}`,
            });
          })) : null),
      GC.section("Games", u.games === undefined ? el("p", { class: "empty" }, "not served by this backend")
        : GC.table(u.games, [
          ["name", "game", (g) => el("a", { href: `#/games/${g.game_id}` }, g.name)],
          ["status", "status"], ["race_name", "race"], ["membership_status", "seat"],
        ], "no games")),
      GC.section("Countries",
        geo.ok ? GC.table(geo.data.items, [
          ["country", "country"], ["count", "requests"],
          ["last_seen_at", "last seen", (c) => GC.when(c.last_seen_at)],
        ], "no requests counted") : el("p", { class: "error" }, GC.describeError(geo))),
      GC.section("History",
        el("h3", {}, "Sanctions"),
        GC.table(u.history.sanctions, [["created_at", "when", (h) => GC.when(h.created_at)], ["kind", "kind"],
          ["action", "action"], ["reason", "reason"], ["actor", "by"], ["expires_at", "expires"]]),
        el("h3", {}, "Limits"),
        GC.table(u.history.limits, [["created_at", "when", (h) => GC.when(h.created_at)], ["kind", "kind"],
          ["value", "value"], ["reason", "reason"], ["actor", "by"]]),
        el("h3", {}, "Entitlements"),
        GC.table(u.history.entitlements, [["created_at", "when", (h) => GC.when(h.created_at)], ["tier", "tier"],
          ["source", "source"], ["reason", "reason"], ["actor", "by"]])),
    ];
  }
})();
