"use strict";
// Start: learn who we are (the role decides whether actions are built), then
// show the page the address names and keep the live parts fresh.
(async function () {
  const me = await GC.get(`${GC.A}/me`);
  // A backend without roles (no /me) lets every admin act; the API decides anyway.
  GC.role = me.ok ? me.data.role : me.status === 404 ? "operator" : "viewer";
  document.body.dataset.role = GC.role;
  document.getElementById("whoami").textContent = me.ok ? `${me.data.username} · ${me.data.role}` : "";
  window.addEventListener("hashchange", GC.route);
  GC.startRefreshing();
  await GC.route();
})();
