"use strict";
// Mail and notifications, engine versions, admin accounts.
(function () {
  const { el, A } = GC;

  GC.views.mail = async function () {
    const [summary, dead, deliveries, routes, noteDead, malformed] = await Promise.all([
      GC.get(`${A}/console/summary`),
      GC.get(`${A}/mail/dead-letters`),
      GC.get(`${A}/mail/deliveries`),
      GC.get(`${A}/notifications/routes`),
      GC.get(`${A}/notifications/dead-letters`),
      GC.get(`${A}/notifications/malformed`),
    ]);
    const failed = (answer) => el("p", { class: "empty" }, GC.describeError(answer));
    const depth = summary.ok ? Object.entries(summary.data.outbox).map(([state, count]) => ({ state, count })) : [];
    return [
      el("h2", {}, "Mail and notifications"),
      GC.section("Outbox depth by state", summary.ok ? GC.table(depth, [["state", "state"], ["count", "mails"]], "empty outbox") : failed(summary)),
      GC.section("Mail dead letters", dead.ok ? GC.table(dead.data.items, [
        ["archived_at", "archived", (d) => GC.when(d.archived_at)],
        ["template_id", "template"], ["attempts", "attempts"],
        ["reason", "last error"],
        ["delivery_id", "delivery"],
        ["resend", "", (d) => GC.button("Resend", () => GC.act({
          label: "resend", question: `Resend mail delivery ${d.delivery_id} (${d.template_id})?`,
          path: `${A}/mail/deliveries/${d.delivery_id}/resend`,
          summary: (data) => `delivery ${data.status}`,
        }))],
      ], "no dead letters") : failed(dead)),
      GC.section("Recent deliveries", deliveries.ok ? GC.table(deliveries.data.items.slice(0, 20), [
        ["created_at", "created", (d) => GC.when(d.created_at)], ["template_id", "template"],
        ["status", "status"], ["attempts", "attempts"], ["last_error", "last error"], ["delivery_id", "delivery"],
      ], "no deliveries") : failed(deliveries)),
      GC.section("Notification routes by kind and channel", routes.ok ? GC.table(routes.data.routes, [
        ["kind", "kind"], ["channel", "channel"], ["status", "status"], ["count", "routes"],
      ], "no notifications") : failed(routes)),
      GC.section("Notification dead letters", noteDead.ok ? GC.table(noteDead.data.items, [
        ["archived_at", "archived", (d) => GC.when(d.archived_at)], ["kind", "kind"], ["channel", "channel"],
        ["reason", "last error"], ["notification_id", "notification"],
      ], "no dead letters") : failed(noteDead)),
      GC.section("Malformed intents", malformed.ok ? GC.table(malformed.data.items, [
        ["received_at", "received", (m) => GC.when(m.received_at)], ["reason", "reason"], ["payload", "payload"],
      ], "none") : failed(malformed)),
    ];
  };

  GC.views.engines = async function () {
    const answer = await GC.get(`${A}/engine-versions`);
    if (!answer.ok) return [el("h2", {}, "Engine versions"), el("p", { class: "error" }, GC.describeError(answer))];
    const base = `${A}/engine-versions`;
    const versionSummary = (v) => `${v.version} ${v.enabled ? "enabled" : "disabled"}${v.is_default ? ", default" : ""}`;
    const register = () => {
      const version = GC.value("engine-version");
      const imageRef = GC.value("engine-image");
      const enabled = document.getElementById("engine-enabled").checked;
      return GC.act({
        label: "register", question: `Register engine ${version} (${imageRef}), ${enabled ? "enabled" : "disabled"}?`,
        path: base, body: () => ({ version, image_ref: imageRef, enabled, notes: GC.value("engine-notes") || null }),
        summary: versionSummary,
      });
    };
    const rows = answer.data.items.map((v) => ({ ...v }));
    return [
      el("h2", {}, "Engine versions"),
      GC.table(rows, [
        ["version", "version"], ["image_ref", "image"],
        ["enabled", "enabled", (v) => (v.enabled ? "enabled" : "disabled")],
        ["is_default", "default", (v) => (v.is_default ? "default" : "")],
        ["notes", "notes"],
        ["actions", "", (v) => el("span", { class: "row-actions", data: { version: v.version } },
          v.enabled ? null : GC.button("Enable", () => GC.act({
            label: "enable", question: `Enable engine ${v.version}? Games may name it from now on.`,
            path: `${base}/${encodeURIComponent(v.version)}/enable`,
            summary: versionSummary,
          }), "enable"),
          v.enabled && !v.is_default ? GC.button("Disable", () => GC.act({
            label: "disable", question: `Disable engine ${v.version}?`,
            path: `${base}/${encodeURIComponent(v.version)}/disable`, summary: versionSummary,
          }), "disable") : null,
          v.enabled && !v.is_default ? GC.button("Make default", () => GC.act({
            label: "make default", question: `Make engine ${v.version} the default for games that start from now on?`,
            path: `${base}/${encodeURIComponent(v.version)}/default`, summary: versionSummary,
          }), "default") : null)],
      ], "no versions"),
      GC.canAct() ? GC.section("Register a version", el("div", { class: "form" },
        GC.field("version", GC.input("engine-version", "1.4.0")),
        GC.field("image", GC.input("engine-image", "galaxy-engine:1.4.0")),
        GC.field("notes", GC.input("engine-notes", "optional")),
        GC.field("enabled", el("input", { id: "engine-enabled", type: "checkbox" })),
        GC.button("Register", register))) : null,
    ];
  };

  GC.views.admins = async function () {
    const answer = await GC.get(`${A}/admin-accounts`);
    if (!answer.ok) return [el("h2", {}, "Admins"), el("p", { class: "error" }, GC.describeError(answer))];
    const base = `${A}/admin-accounts`;
    const summary = (a) => `${a.username} ${a.status}${a.role ? ", " + a.role : ""}`;
    const create = () => {
      const username = GC.value("admin-name");
      const role = GC.value("admin-role");
      const password = document.getElementById("admin-password").value;
      return GC.act({
        label: "create admin", question: `Create admin ${username} as ${role}?`, path: base,
        body: () => ({ username, password, role }), summary,
      });
    };
    return [
      el("h2", {}, "Admin accounts"),
      GC.table(answer.data.items, [
        ["username", "user"], ["role", "role"], ["status", "status"],
        ["last_used_at", "last used", (a) => GC.when(a.last_used_at)],
        ["actions", "", (a) => el("span", { class: "row-actions", data: { username: a.username } },
          GC.button(a.role === "operator" ? "Make viewer" : "Make operator", () => {
            const role = a.role === "operator" ? "viewer" : "operator";
            return GC.act({
              label: "change role", question: `Give admin ${a.username} the ${role} role?`,
              path: `${base}/${encodeURIComponent(a.username)}/role`, body: () => ({ role }), summary,
            });
          }, "role"),
          GC.button(a.status === "disabled" ? "Enable" : "Disable", () => {
            const verb = a.status === "disabled" ? "enable" : "disable";
            return GC.act({
              label: verb, question: `${verb === "enable" ? "Enable" : "Disable"} admin ${a.username}?`,
              path: `${base}/${encodeURIComponent(a.username)}/${verb}`, summary,
            });
          }, "status"))],
      ]),
      GC.canAct() ? GC.section("Create an admin", el("div", { class: "form" },
        GC.field("user name", GC.input("admin-name", "name")),
        GC.field("password", el("input", { id: "admin-password", type: "password" })),
        GC.field("role", GC.select("admin-role", ["viewer", "operator"], "viewer")),
        GC.button("Create", create))) : null,
      GC.canAct() ? GC.section("Reset a password", el("div", { class: "form" },
        GC.field("admin", GC.select("reset-name", answer.data.items.map((a) => a.username))),
        GC.field("new password", el("input", { id: "reset-password", type: "password" })),
        GC.button("Reset password", () => {
          const username = GC.value("reset-name");
          const password = document.getElementById("reset-password").value;
          return GC.act({
            label: "reset password", question: `Set a new password for admin ${username}? The old one stops working.`,
            path: `${base}/${encodeURIComponent(username)}/reset-password`, body: () => ({ password }), summary,
          });
        }))) : null,
    ];
  };
})();
