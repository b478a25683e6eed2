// The Coffer console: hash-routed views built with DOM calls (never innerHTML with data).
import { ApiError, call, setCsrf, url } from "./api.js";
import { startCharts } from "./charts.js";
import { uploadFile } from "./upload.js";

const main = document.getElementById("main");
let me = null;
let viewId = 0;
const uploadsList = h("ul", { id: "uploads", class: "uploads", "aria-live": "polite" });

// -- helpers ----------------------------------------------------------------------------------------
export function h(tag, attrs = {}, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "text") el.textContent = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const kid of kids.flat()) if (kid !== null && kid !== undefined && kid !== false)
    el.append(kid instanceof Node ? kid : String(kid));
  return el;
}

function size(n) {
  if (n === null || n === undefined) return "";
  const u = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : n) + " " + u[i];
}

function toast(msg, kind = "error") {
  const t = document.getElementById("toast");
  t.textContent = msg; t.className = kind; t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, 6000);
}

function errText(e) { return e instanceof ApiError ? `${e.code}: ${e.message}` : String(e.message || e); }

async function guarded(fn) {
  try { return await fn(); } catch (e) {
    if (e instanceof ApiError && e.status === 401) { me = null; location.hash = "#/login"; render(); }
    toast(errText(e));
    return undefined;
  }
}

function confirmDialog(text, okLabel = "Delete") {
  const d = document.getElementById("confirm");
  document.getElementById("confirm-text").textContent = text;
  document.getElementById("confirm-ok").textContent = okLabel;
  return new Promise((resolve) => {
    d.addEventListener("close", () => resolve(d.returnValue === "ok"), { once: true });
    d.returnValue = "";
    d.showModal();
  });
}

function params() {
  const hash = location.hash.slice(1) || "/buckets";
  const [path, query] = hash.split("?");
  return { path, q: new URLSearchParams(query || "") };
}

function link(path, q) { return "#" + path + (q ? "?" + new URLSearchParams(q).toString() : ""); }

function page(title, ...kids) {
  main.replaceChildren(h("h1", { text: title }), ...kids);
  document.title = title + " · Coffer console";
}

// -- session ----------------------------------------------------------------------------------------
function showSession() {
  document.getElementById("nav").hidden = !me;
  document.getElementById("logout").hidden = !me;
  document.getElementById("who").textContent = me ? `${me.display_name || me.user} (${me.access_key})` : "";
  for (const a of document.querySelectorAll("[data-admin]")) a.hidden = !(me && me.admin);
}

function loginView() {
  const err = h("p", { class: "error", id: "login-error", role: "alert" });
  const form = h("form", { class: "card narrow", id: "login-form" },
    h("label", { for: "ak" }, "Access key"), h("input", { id: "ak", name: "ak", autocomplete: "username", required: true }),
    h("label", { for: "sk" }, "Secret key"),
    h("input", { id: "sk", name: "sk", type: "password", autocomplete: "current-password", required: true }),
    err, h("button", { type: "submit", id: "login-button" }, "Log in"));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      me = await call("POST", "login", {}, { access_key: form.ak.value, secret_key: form.sk.value });
      setCsrf(me.csrf); showSession(); location.hash = "#/buckets"; render();
    } catch (e) { err.textContent = errText(e); }
  });
  page("Log in", form);
  form.ak.focus();
}

// -- buckets ----------------------------------------------------------------------------------------
async function bucketsView(id) {
  const data = await guarded(() => call("GET", "buckets"));
  if (!data || id !== viewId) return;
  const name = h("input", { id: "new-bucket", "aria-label": "New bucket name", placeholder: "new-bucket-name" });
  const versioned = h("input", { type: "checkbox", id: "new-versioned" });
  const lock = h("input", { type: "checkbox", id: "new-lock" });
  const create = h("form", { class: "row", id: "create-bucket" }, name,
    h("label", {}, versioned, " versioning"), h("label", {}, lock, " object lock"),
    h("button", { type: "submit" }, "Create bucket"));
  create.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const ok = await guarded(() => call("POST", "buckets", {}, { name: name.value.trim(), versioning: versioned.checked,
      object_lock: lock.checked }));
    if (ok) { toast(`Bucket ${ok.name} created`, "ok"); render(); }
  });
  const rows = data.buckets.map((b) => h("tr", {},
    h("td", {}, h("a", { href: link("/browse", { bucket: b.name }), class: "bucket-link" }, b.name)),
    h("td", { class: "num" }, String(b.objects)), h("td", { class: "num" }, size(b.bytes)),
    h("td", {}, [b.versioning || "off", b.object_lock ? " · lock" : "", b.protection ? " · protection" : ""].join("")),
    h("td", {}, b.created || ""),
    h("td", {}, h("a", { href: link("/settings", { bucket: b.name }) }, "Settings"))));
  page("Buckets", create, h("table", { id: "buckets" },
    h("thead", {}, h("tr", {}, ["Name", "Objects", "Size", "Versioning", "Created", ""].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: 6 }, "No buckets yet.")))));
}

// -- browse -----------------------------------------------------------------------------------------
function crumbs(bucket, prefix) {
  const parts = prefix.split("/").filter(Boolean);
  const out = [h("a", { href: "#/buckets" }, "Buckets"), " / ", h("a", { href: link("/browse", { bucket }) }, bucket)];
  let acc = "";
  for (const p of parts) {
    acc += p + "/";
    out.push(" / ", h("a", { href: link("/browse", { bucket, prefix: acc }) }, p));
  }
  return h("nav", { class: "crumbs", "aria-label": "Breadcrumbs" }, out);
}

async function browseView(id, q) {
  const bucket = q.get("bucket"), prefix = q.get("prefix") || "", after = q.get("after") || "";
  const search = q.get("search") || "";
  const t0 = performance.now();
  const data = await guarded(() => call("GET", "objects", { bucket, prefix: prefix + search, after, limit: 200 }));
  if (!data || id !== viewId) return;
  const body = h("tbody", {});
  for (const p of data.prefixes) {
    body.append(h("tr", {}, h("td", {}), h("td", {}, h("a", { href: link("/browse", { bucket, prefix: p }), class: "folder" },
      "📁 " + p.slice(prefix.length))), h("td", {}), h("td", {}), h("td", {})));
  }
  for (const o of data.objects) {
    const box = h("input", { type: "checkbox", "aria-label": "Select " + o.key, "data-key": o.key });
    body.append(h("tr", {}, h("td", {}, box),
      h("td", {}, h("a", { href: link("/object", { bucket, key: o.key }), class: "object-link" }, o.key.slice(prefix.length) || o.key)),
      h("td", { class: "num" }, size(o.size)), h("td", {}, o.last_modified || ""),
      h("td", {}, h("a", { href: url("content", { bucket, key: o.key, download: 1 }), download: "" }, "Download"))));
  }
  const searchBox = h("input", { id: "search", type: "search", placeholder: "Filter by name prefix", value: search,
    "aria-label": "Filter by key prefix" });
  const searchForm = h("form", { class: "row", role: "search" }, searchBox, h("button", { type: "submit" }, "Filter"));
  searchForm.addEventListener("submit", (ev) => {
    ev.preventDefault(); location.hash = link("/browse", { bucket, prefix, search: searchBox.value });
  });
  const fileInput = h("input", { type: "file", id: "file-input", multiple: true, "aria-label": "Choose files to upload" });
  const progress = uploadsList;  // kept across views: uploads go on while the user browses
  const startUploads = async (files) => {
    for (const f of files) {
      const key = prefix + (f.webkitRelativePath || f.name);
      const bar = h("progress", { max: f.size || 1, value: 0, "aria-label": "Upload of " + f.name });
      const label = h("span", { class: "pct" }, "0%");
      const li = h("li", { "data-key": key }, h("span", {}, f.name + " "), bar, label);
      progress.append(li);
      try {
        await uploadFile(bucket, key, f, (n, total) => {
          bar.value = n; li.dataset.sent = String(n);
          label.textContent = Math.floor(100 * n / Math.max(1, total)) + "%";
        });
        bar.value = f.size; li.dataset.sent = String(f.size); label.textContent = "done"; li.classList.add("done");
      } catch (e) { label.textContent = "failed: " + errText(e); li.classList.add("failed"); }
    }
    if (id === viewId) render();
  };
  fileInput.addEventListener("change", () => startUploads([...fileInput.files]));
  const drop = h("div", { class: "drop", id: "drop", tabindex: "0" }, "Drop files here, or ",
    h("label", { for: "file-input", class: "button" }, "choose files"), fileInput);
  drop.addEventListener("dragover", (ev) => { ev.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (ev) => {
    ev.preventDefault(); drop.classList.remove("over"); startUploads([...ev.dataTransfer.files]);
  });
  const folderName = h("input", { id: "folder-name", "aria-label": "New folder name", placeholder: "folder name" });
  const folderForm = h("form", { class: "row" }, folderName, h("button", { type: "submit" }, "Create folder"));
  folderForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (await guarded(() => call("POST", "folder", { bucket, key: prefix + folderName.value.trim() }))) render();
  });
  const del = h("button", { type: "button", class: "danger", id: "delete-selected" }, "Delete selected");
  del.addEventListener("click", async () => {
    const keys = [...body.querySelectorAll("input[type=checkbox]:checked")].map((b) => b.dataset.key);
    if (!keys.length || !await confirmDialog(`Delete ${keys.length} object(s)? ${keys.join(", ")}`)) return;
    for (const key of keys) await guarded(() => call("DELETE", "object", { bucket, key }));
    render();
  });
  const nav = h("div", { class: "row pager" });
  if (after) nav.append(h("a", { href: link("/browse", { bucket, prefix, search }) }, "⏮ First page"));
  if (data.truncated) nav.append(h("a", { id: "next-page", href: link("/browse", { bucket, prefix, search, after: data.next }) }, "Next page ⏭"));
  page(bucket, crumbs(bucket, prefix),
    h("div", { class: "row" }, h("a", { href: link("/settings", { bucket }) }, "Bucket settings"), " · ",
      h("a", { href: link("/versions", { bucket, prefix }) }, "Versions")),
    searchForm, drop, progress, folderForm,
    h("table", { id: "objects", "data-render-ms": String(Math.round(performance.now() - t0)) },
      h("thead", {}, h("tr", {}, ["", "Name", "Size", "Modified", ""].map((t) => h("th", { scope: "col" }, t)))), body),
    h("div", { class: "row" }, del), nav);
  main.querySelector("#objects").dataset.renderMs = String(Math.round(performance.now() - t0));
}

// -- one object -------------------------------------------------------------------------------------
function protectionText(p) {
  const out = [];
  if (p.legal_hold) out.push("Legal hold ON: no version delete or overwrite until it is removed.");
  if (p.retention) out.push(`${p.retention.mode} retention until ${p.retention.until}` +
    (p.retention.active ? (p.retention.mode === "COMPLIANCE" ? ": nobody can delete this version before then."
      : ": deleting before then needs the bypass-governance permission.") : " (expired)."));
  if (p.ibm) {
    out.push(`IBM retention: ${p.ibm.period === -2 ? "permanent" : p.ibm.period === -1 ? "indefinite" : "until " + p.ibm.until}.`);
    for (const hold of p.ibm.holds) out.push(`IBM legal hold "${hold.id}" since ${hold.date}.`);
  }
  return out.length ? out : ["Not protected: this version can be deleted."];
}

async function preview(bucket, key, info) {
  const box = h("section", { id: "preview", "aria-label": "Preview" }, h("h2", {}, "Preview"));
  const ct = (info.content_type || "").split(";")[0];
  const src = url("content", { bucket, key, version_id: info.version_id && info.version_id !== "null" ? info.version_id : undefined });
  if (ct.startsWith("image/") && ct !== "image/svg+xml") box.append(h("img", { src, alt: key, class: "preview-img" }));
  else if (ct === "application/pdf") box.append(h("iframe", { src, title: "PDF preview of " + key, class: "preview-pdf" }));
  else if (ct.startsWith("text/") || ct === "application/json" || /\.(txt|md|json|csv|log|py|js)$/i.test(key)) {
    const resp = await fetch(src, { headers: { Range: "bytes=0-262143" } });
    let text = await resp.text();
    if (ct === "application/json" || key.endsWith(".json")) { try { text = JSON.stringify(JSON.parse(text), null, 2); } catch { /* as is */ } }
    box.append(h("pre", { class: "preview-text", tabindex: "0" }, text));
  } else box.append(h("p", {}, "No preview for " + (ct || "this type") + "."));
  return box;
}

async function objectView(id, q) {
  const bucket = q.get("bucket"), key = q.get("key");
  const info = await guarded(() => call("GET", "object", { bucket, key }));
  if (!info || id !== viewId) return;
  const prefix = key.includes("/") ? key.slice(0, key.lastIndexOf("/") + 1) : "";
  const dl = (k, v) => [h("dt", {}, k), h("dd", {}, v ?? "")];
  const details = h("dl", { class: "details" },
    dl("Size", `${size(info.size)} (${info.size} bytes)`), dl("ETag", info.etag), dl("Content type", info.content_type),
    dl("Modified", info.last_modified), dl("Version", info.version_id || "—"), dl("Storage class", info.storage_class),
    dl("Storage policy", info.storage_policy || "default"), dl("Encrypted", info.encrypted ? "yes" : "no"),
    dl("Checksums", Object.entries(info.checksums).map(([a, v]) => `${a}: ${v}`).join(", ") || "—"),
    dl("Metadata", Object.entries(info.metadata).map(([a, v]) => `${a}=${v}`).join(", ") || "—"));
  // tags
  const tags = h("textarea", { id: "tags", rows: 3, "aria-label": "Tags, one key=value a line" },
    Object.entries(info.tags).map(([k, v]) => `${k}=${v}`).join("\n"));
  const tagForm = h("form", { class: "card" }, h("h2", {}, "Tags"), tags, h("button", { type: "submit" }, "Save tags"));
  tagForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const doc = {};
    for (const line of tags.value.split("\n")) if (line.includes("=")) { const i = line.indexOf("="); doc[line.slice(0, i).trim()] = line.slice(i + 1).trim(); }
    if (await guarded(() => call("PUT", "tags", { bucket, key }, { tags: doc }))) toast("Tags saved", "ok");
  });
  // share
  const exp = h("select", { id: "share-expiry", "aria-label": "Link expiry" },
    [["60", "1 minute"], ["3600", "1 hour"], ["86400", "1 day"], ["604800", "7 days"]].map(([v, t]) => h("option", { value: v, selected: v === "3600" }, t)));
  const shareOut = h("input", { id: "share-url", readonly: true, "aria-label": "Share link", class: "wide" });
  const shareForm = h("form", { class: "card" }, h("h2", {}, "Share"), h("div", { class: "row" }, exp,
    h("button", { type: "submit", id: "share-button" }, "Make link")), shareOut);
  shareForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const r = await guarded(() => call("POST", "share", { bucket, key, expires: exp.value }));
    if (r) { shareOut.value = r.url; shareOut.select(); toast(`Link valid until ${r.expires}`, "ok"); }
  });
  // protection
  const prot = h("section", { class: "card", id: "protection" }, h("h2", {}, "Protection"),
    h("ul", {}, protectionText(info.protection).map((t) => h("li", {}, t))));
  if (info.object_lock) {
    const hold = h("button", { type: "button", id: "legal-hold-toggle" }, info.protection.legal_hold ? "Remove legal hold" : "Set legal hold");
    hold.addEventListener("click", async () => {
      if (await guarded(() => call("PUT", "legal-hold", { bucket, key, version_id: info.version_id }, { on: !info.protection.legal_hold }))) render();
    });
    const mode = h("select", { id: "ret-mode", "aria-label": "Retention mode" }, ["GOVERNANCE", "COMPLIANCE"].map((m) => h("option", {}, m)));
    const until = h("input", { id: "ret-until", type: "datetime-local", "aria-label": "Retain until" });
    const ret = h("form", { class: "row" }, mode, until, h("button", { type: "submit" }, "Set retention"));
    ret.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      if (await guarded(() => call("PUT", "retention", { bucket, key, version_id: info.version_id }, { mode: mode.value, until: until.value }))) render();
    });
    prot.append(hold, ret);
  }
  const delBtn = h("button", { type: "button", class: "danger", id: "delete-object" }, "Delete object");
  delBtn.addEventListener("click", async () => {
    if (!await confirmDialog(`Delete ${key}?`)) return;
    if (await guarded(() => call("DELETE", "object", { bucket, key }))) location.hash = link("/browse", { bucket, prefix });
  });
  page(key.slice(prefix.length) || key, crumbs(bucket, prefix),
    h("div", { class: "row" }, h("a", { class: "button", href: url("content", { bucket, key, download: 1 }), download: "" }, "Download"),
      h("a", { class: "button", href: link("/versions", { bucket, prefix: key, exact: 1 }) }, "Version history"), delBtn),
    h("div", { class: "grid" }, h("section", { class: "card" }, h("h2", {}, "Details"), details), prot, tagForm, shareForm),
    await preview(bucket, key, info));
}

async function versionsView(id, q) {
  const bucket = q.get("bucket"), prefix = q.get("prefix") || "", exact = q.get("exact") === "1";
  const data = await guarded(() => call("GET", "versions", { bucket, prefix, key_marker: q.get("km"), version_id_marker: q.get("vm") }));
  if (!data || id !== viewId) return;
  const rows = data.versions.filter((v) => !exact || v.key === prefix).map((v) => {
    const vid = v.version_id;
    const actions = h("td", { class: "actions" });
    if (!v.delete_marker) {
      actions.append(h("a", { href: url("content", { bucket, key: v.key, version_id: vid, download: 1 }) }, "Download"));
      if (!v.latest) {
        const restore = h("button", { type: "button", class: "restore", "data-version": vid }, "Restore");
        restore.addEventListener("click", async () => {
          if (await guarded(() => call("POST", "restore", { bucket, key: v.key, version_id: vid }))) { toast("Restored as the current version", "ok"); render(); }
        });
        actions.append(restore);
      }
    }
    const del = h("button", { type: "button", class: "danger delete-version", "data-version": vid }, "Delete");
    del.addEventListener("click", async () => {
      if (!await confirmDialog(`Delete version ${vid} of ${v.key} for good?`)) return;
      if (await guarded(() => call("DELETE", "object", { bucket, key: v.key, version_id: vid }))) render();
    });
    actions.append(del);
    const prot = protectionText(v.protection);
    return h("tr", { class: v.delete_marker ? "marker" : "" },
      h("td", {}, v.key), h("td", { class: "mono" }, vid), h("td", {}, v.delete_marker ? "delete marker" : size(v.size)),
      h("td", {}, v.last_modified), h("td", {}, v.latest ? "current" : ""),
      h("td", {}, v.protection.legal_hold || v.protection.retention || v.protection.ibm ? prot.join(" ") : ""), actions);
  });
  const nav = h("div", { class: "row pager" });
  if (data.truncated) nav.append(h("a", { href: link("/versions", { bucket, prefix, km: data.next_key_marker, vm: data.next_version_id_marker || "" }) }, "Next page ⏭"));
  page("Versions", crumbs(bucket, exact ? prefix.slice(0, prefix.lastIndexOf("/") + 1) : prefix),
    h("table", { id: "versions" }, h("thead", {}, h("tr", {}, ["Key", "Version", "Size", "Modified", "", "Protection", ""].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, rows)), nav);
}

// -- bucket settings --------------------------------------------------------------------------------
async function settingsView(id, q) {
  const bucket = q.get("bucket");
  const s = await guarded(() => call("GET", "settings", { bucket }));
  if (!s || id !== viewId) return;
  const ver = h("select", { id: "versioning", "aria-label": "Versioning" }, ["Enabled", "Suspended"].map((v) => h("option", { selected: s.versioning === v }, v)));
  const verForm = h("form", { class: "card" }, h("h2", {}, "Versioning"), h("p", {}, "Now: " + (s.versioning || "never enabled")),
    h("div", { class: "row" }, ver, h("button", { type: "submit" }, "Apply")));
  verForm.addEventListener("submit", async (ev) => {
    ev.preventDefault(); if (await guarded(() => call("PUT", "versioning", { bucket }, { status: ver.value }))) render();
  });
  const jsonEditor = (title, idBase, value, save) => {
    const area = h("textarea", { id: idBase, rows: 10, spellcheck: "false", "aria-describedby": idBase + "-error" }, value ? JSON.stringify(value, null, 2) : "");
    const err = h("p", { class: "error", id: idBase + "-error", role: "alert" });
    const form = h("form", { class: "card" }, h("h2", {}, h("label", { for: idBase }, title)), area, err,
      h("button", { type: "submit", id: idBase + "-save" }, "Save"));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault(); err.textContent = "";
      try { await save(area.value); toast(title + " saved", "ok"); } catch (e) { err.textContent = errText(e); }
    });
    return form;
  };
  const policy = jsonEditor("Bucket policy (JSON)", "policy", s.policy ? JSON.parse(s.policy) : null,
    (text) => call("PUT", "policy", { bucket }, { policy: text }));
  const lifecycle = jsonEditor("Lifecycle rules (JSON list)", "lifecycle", s.lifecycle, (text) => {
    let rules;
    try { rules = text.trim() ? JSON.parse(text) : null; } catch (e) { throw new Error("Not JSON: " + e.message); }
    return call("PUT", "lifecycle", { bucket }, { rules });
  });
  const cfg = (name, title) => {
    const card = h("section", { class: "card" }, h("h2", {}, title), h("pre", {}, s[name] ? JSON.stringify(s[name], null, 2) : "not set"));
    if (s[name]) {
      const rm = h("button", { type: "button", class: "danger" }, "Remove");
      rm.addEventListener("click", async () => {
        if (await confirmDialog(`Remove the ${title} configuration of ${bucket}?`, "Remove"))
          if ((await guarded(() => call("PUT", "bucket-config", { bucket, name }))) !== undefined) render();
      });
      card.append(rm);
    }
    return card;
  };
  const quota = h("section", { class: "card" }, h("h2", {}, "Quota of the owner"), h("pre", {}, s.quota ? JSON.stringify(s.quota, null, 2) : "none"));
  const lock = h("section", { class: "card" }, h("h2", {}, "Protection"),
    h("p", {}, s.object_lock ? "S3 Object Lock is enabled: versions can carry retention and legal holds." : "Object Lock is off."),
    s.protection ? h("pre", {}, JSON.stringify(s.protection, null, 2)) : "");
  const delBucket = h("button", { type: "button", class: "danger", id: "delete-bucket" }, "Delete bucket");
  delBucket.addEventListener("click", async () => {
    if (!await confirmDialog(`Delete the bucket ${bucket}? It must be empty.`)) return;
    if ((await guarded(() => call("DELETE", "buckets", { bucket }))) !== undefined) location.hash = "#/buckets";
  });
  page("Settings of " + bucket, crumbs(bucket, ""),
    h("p", {}, `Owner ${s.owner} · ${s.objects} objects · ${size(s.bytes)} · created ${s.created}`),
    h("div", { class: "grid" }, verForm, lock, quota, cfg("cors", "CORS"), cfg("website", "Website"), cfg("encryption", "Default encryption")),
    policy, lifecycle, delBucket);
}

// -- administration -----------------------------------------------------------------------------------
function secretOnce(doc) {
  const box = h("div", { class: "card secret", role: "status", id: "secret-once" },
    h("p", {}, "Copy the secret now: it is shown only once."),
    h("p", { class: "mono" }, `Access key: ${doc.access_key}`), h("p", { class: "mono" }, `Secret key: ${doc.secret_key}`));
  main.prepend(box);
}

async function adminView(id) {
  const data = await guarded(() => call("GET", "users"));
  if (!data || id !== viewId) return;
  const uid = h("input", { id: "new-user", "aria-label": "New user id", placeholder: "user id" });
  const adm = h("input", { type: "checkbox", id: "new-user-admin" });
  const form = h("form", { class: "row" }, uid, h("label", {}, adm, " admin"), h("button", { type: "submit" }, "Create user"));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const r = await guarded(() => call("POST", "users", {}, { id: uid.value.trim(), admin: adm.checked }));
    if (r) { await adminView(id); if (r.secret_key) secretOnce(r); }
  });
  const rows = [];
  for (const u of data.users) {
    const keys = h("ul", { class: "plain" });
    for (const k of u.keys) {
      const rot = h("button", { type: "button" }, "Rotate");
      rot.addEventListener("click", async () => { const r = await guarded(() => call("POST", "rotate", { key: k.access_key })); if (r) { await adminView(id); secretOnce(r); } });
      const dis = h("button", { type: "button" }, k.status === "active" ? "Disable" : "Enable");
      dis.addEventListener("click", async () => { if (await guarded(() => call("PUT", "key-status", { key: k.access_key }, { status: k.status === "active" ? "disabled" : "active" }))) adminView(id); });
      keys.append(h("li", {}, h("span", { class: "mono" }, k.access_key), ` (${k.status}) `, rot, dis));
    }
    const add = h("button", { type: "button" }, "New key");
    add.addEventListener("click", async () => { const r = await guarded(() => call("POST", "keys", {}, { user: u.id })); if (r) { await adminView(id); secretOnce(r); } });
    rows.push(h("tr", {}, h("td", {}, u.id), h("td", {}, u.display_name || ""), h("td", {}, u.admin ? "admin" : ""),
      h("td", {}, keys, add), h("td", {}, u.quota && Object.keys(u.quota).length ? JSON.stringify(u.quota) : "none")));
  }
  page("Users and keys", form, h("table", { id: "users" },
    h("thead", {}, h("tr", {}, ["User", "Name", "Role", "Keys", "Quota"].map((t) => h("th", { scope: "col" }, t)))), h("tbody", {}, rows)));
}

async function healthView(id) {
  const data = await guarded(() => call("GET", "health"));
  if (!data || id !== viewId) return;
  const vols = data.volumes.length ? h("table", { id: "volumes" },
    h("thead", {}, h("tr", {}, ["Volume", "State", "Capacity", "Free"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, data.volumes.map((v) => h("tr", {}, h("td", {}, v.path || v.uuid), h("td", {}, v.state),
      h("td", { class: "num" }, size(v.capacity ?? v.total)), h("td", { class: "num" }, size(v.free))))))
    : h("p", {}, "Data is kept in one folder (no volumes configured).");
  const canvas = (cid, label) => h("figure", { class: "chart" }, h("canvas", { id: cid, role: "img", "aria-label": label, height: 140 }), h("figcaption", {}, label));
  const charts = h("div", { class: "grid" }, canvas("chart-requests", "Requests per second"),
    canvas("chart-throughput", "Throughput (bytes per second in and out)"), canvas("chart-errors", "Errors per second"));
  page("Health", h("p", {}, `Repair queue: ${data.repair_queue ?? 0}`), vols, charts);
  startCharts({ requests: main.querySelector("#chart-requests"), throughput: main.querySelector("#chart-throughput"),
    errors: main.querySelector("#chart-errors") }, () => id === viewId);
}

// -- routing ----------------------------------------------------------------------------------------
async function render() {
  const id = ++viewId;
  if (!me) {
    try { me = await call("GET", "session"); setCsrf(me.csrf); } catch { me = null; }
  }
  showSession();
  const { path, q } = params();
  if (!me) return loginView();
  if (path === "/login") { location.hash = "#/buckets"; return; }
  const views = { "/buckets": bucketsView, "/browse": browseView, "/object": objectView, "/versions": versionsView,
    "/settings": settingsView, "/admin": adminView, "/health": healthView };
  const view = views[path] || bucketsView;
  main.setAttribute("aria-busy", "true");
  try { await view(id, q); } finally { main.removeAttribute("aria-busy"); }
  if (id === viewId) { main.dataset.view = path; main.dataset.renderedAt = String(Math.round(performance.now())); }
}

document.getElementById("logout").addEventListener("click", async () => {
  await guarded(() => call("POST", "logout"));
  me = null; setCsrf(""); location.hash = "#/login"; render();
});
window.addEventListener("hashchange", render);
render();
